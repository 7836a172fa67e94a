# Sourced by bootstrap.sh (Python 3.10, the project) and interop_env.sh (Python 3.11, the NIR interop env).
# find_python X.Y [PREFERRED]: print a Python X.Y interpreter, trying PREFERRED (a command or a path),
# then pythonX.Y on PATH, then pyenv's versions, then the usual system places; return 1 if there is none.
find_python() {
    local want=$1 preferred=${2:-} candidate root
    local check="import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$want'.split('.'))))"
    for candidate in "$preferred" "python$want"; do
        if [ -n "$candidate" ] && command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c "$check" 2>/dev/null; then
            command -v "$candidate"; return 0
        fi
    done
    for root in "${PYENV_ROOT:-}" "$HOME/.pyenv" /root/.pyenv /usr/local/pyenv; do
        [ -n "$root" ] || continue
        for candidate in "$root"/versions/"$want".*/bin/python"$want"; do
            if [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
        done
    done
    for candidate in /usr/bin/python"$want" /usr/local/bin/python"$want" /opt/python"$want"/bin/python"$want"; do
        if [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
    done
    return 1
}
