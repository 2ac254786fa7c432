"""Reading part of an S3 object as a seekable file: Parquet readers fetch a footer and the column
chunks they need, never the whole object."""

from __future__ import annotations

import io


class RangedObject(io.RawIOBase):
    """A read-only, seekable view of an S3 object that fetches only the bytes read (ranged GETs):
    Parquet reads its footer, then just the column chunks asked for."""

    def __init__(self, s3, bucket: str, key: str, size: int | None = None):
        self.s3, self.bucket, self.key = s3, bucket, key
        self.size = size if size is not None else s3.head_object(Bucket=bucket, Key=key)["ContentLength"]
        self.position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer) -> int:
        end = min(self.size, self.position + len(buffer))
        if end <= self.position:
            return 0
        body = self.s3.get_object(Bucket=self.bucket, Key=self.key,
                                  Range=f"bytes={self.position}-{end - 1}")["Body"].read()
        buffer[: len(body)] = body
        self.position += len(body)
        return len(body)
