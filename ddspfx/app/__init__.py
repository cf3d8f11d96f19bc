"""ddspfx's local web app (``python -m ddspfx.app``; needs the ``app`` extra: ``pip install "ddspfx[app]"``).

- ``analysis``: the pure functions the analysis page calls (no Gradio);
- ``page``: the analysis page (Gradio Blocks) and the server launch;
- ``examples``: the page's example clips (the built-in synthetic guitar through known chains);
- ``jobs``: cancellable refinement in its own process;
- ``listening`` / ``listening_page``: the blind MUSHRA listening test (ITU-R BS.1534) and its SQLite store;
- ``report``: the listening report (means with bootstrap 95 % intervals, post-screening, plot, CSV);
- ``workspace``: the one temporary folder the app writes to.
"""
