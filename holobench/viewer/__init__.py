"""The run viewer: a static site to read runs instance by instance (see :mod:`holobench.viewer.site`)."""

from holobench.viewer.site import MANIFEST, ViewerManifest, build_viewer, serve, write_site

__all__ = ["MANIFEST", "ViewerManifest", "build_viewer", "serve", "write_site"]
