"""A local OSS endpoint over the OSS root, for worker code using oss2/ossfs and `bcs sub -p`."""

from localbatch.ossendpoint.server import OssEndpoint

__all__ = ["OssEndpoint"]
