"""One module per tutorial notebook: its file name (``NOTEBOOK``) and its cells (``CELLS``)."""
