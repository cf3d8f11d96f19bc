"""The shipped training configurations: ``--config NAME`` reads ``NAME.yaml`` from here (``ddspfx.config``)."""
