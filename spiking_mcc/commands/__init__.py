"""CLI subcommands; see spiking_mcc.cli for the contract each module follows."""
