"""Figures without pyplot, and the few conventions every figure follows.

The project draws on `matplotlib.figure.Figure` objects of its own (`plt.subplots` below), saved by
`spiking_mcc.io.save_figure`: it never selects a backend or registers figures with pyplot, so a user's
matplotlib state (an inline notebook backend, an interactive window) is left as it was.

- accuracy is drawn in percent (`as_percent`, axis label `ACCURACY_LABEL`), as the report's tables
  and the CLI print it (`spiking_mcc.formatting.pct`);
- epoch axes have integer ticks only (`integer_ticks`);
- legends sit outside the data (`legend_outside`: to the right of the axes, or below them).
"""

from types import SimpleNamespace

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

FIGURE_KEYWORDS = ("figsize", "dpi", "layout", "facecolor", "edgecolor", "frameon")


def subplots(nrows: int = 1, ncols: int = 1, **kwargs):
    """`pyplot.subplots` on a figure pyplot does not know: (figure, axes). Figure keywords (figsize,
    layout, dpi, ...) go to the Figure, the rest (sharex, sharey, squeeze, gridspec_kw, ...) to its
    `subplots`."""
    figure = Figure(**{k: kwargs.pop(k) for k in FIGURE_KEYWORDS if k in kwargs})
    return figure, figure.subplots(nrows, ncols, **kwargs)


# The pyplot names the figure modules use, without pyplot's global state.
plt = SimpleNamespace(subplots=subplots, get_cmap=matplotlib.colormaps.get_cmap, cm=matplotlib.cm)

ACCURACY_LABEL = "test accuracy (%)"


def as_percent(fractions) -> list[float]:
    """Fractions in [0, 1] (accuracies) as percentages, for plotting."""
    return [100.0 * value for value in fractions]


def integer_ticks(axis) -> None:
    """Only integer tick positions on this axis (epochs, counts): never 1.5, 2.5."""
    axis.set_major_locator(MaxNLocator(integer=True))


def legend_outside(ax, where: str = "right", ncol: int = 1, fontsize: float = 8, **kwargs):
    """A legend beside the axes ("right"), under them ("below"), or under the whole figure
    ("figure-below", for a figure with layout="constrained"), never over the data."""
    if where == "figure-below":
        handles, labels = ax.get_legend_handles_labels()
        return ax.figure.legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize=fontsize,
                                **kwargs)
    if where == "right":
        return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                         fontsize=fontsize, ncol=ncol, **kwargs)
    if where == "below":
        return ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), borderaxespad=0.0,
                         fontsize=fontsize, ncol=ncol, **kwargs)
    raise ValueError(f"legend_outside: where must be 'right', 'below' or 'figure-below', got {where!r}")


__all__ = ["ACCURACY_LABEL", "as_percent", "integer_ticks", "legend_outside", "plt"]
