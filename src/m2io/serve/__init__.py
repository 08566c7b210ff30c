"""The HTTP service (``pip install 'm2io[serve]'``): :func:`create_app` and ``m2io serve``.

See docs/serve.md for the routes and examples.
"""

from m2io.serve.app import create_app

__all__ = ["create_app"]
