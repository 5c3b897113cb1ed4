"""The ``signalfire`` command line: one module per command group."""
