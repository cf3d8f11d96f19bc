"""ddspfx's local web app (``python -m ddspfx.app``; needs the ``app`` extra: ``pip install "ddspfx[app]"``).

- ``analysis``: the pure functions the analysis page calls (no Gradio);
- ``page``: the analysis page (Gradio Blocks) and the server launch;
- ``jobs``: cancellable refinement in its own process;
- ``listening`` / ``listening_page``: the MUSHRA listening test (ITU-R BS.1534) and its SQLite store;
- ``report``: the listening report (means with 95 % intervals, post-screening, plot, CSV);
- ``workspace``: the one temporary folder the app writes to.
"""
