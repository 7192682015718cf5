"""roadcam's core: configuration, plugin contract, events, store, runtime and CLI.

The core imports no hardware library and no vision library: those live behind ``roadcam.hal`` and in
the plugins, so the core runs (and is tested) anywhere.
"""
