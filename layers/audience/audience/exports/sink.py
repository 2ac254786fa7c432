"""A write-only binary stream into one S3 object through a multipart upload.

Writers push bytes; every ``part_size`` bytes become one uploaded part (S3 needs at least 5 MiB for
every part but the last), so memory holds one part whatever the file size. ``tell``/``seek`` make it
usable by ``zipfile`` (openpyxl) and pyarrow, which then only ever ask for the position.
"""

from __future__ import annotations

import io
from typing import Any

MIN_PART_SIZE = 5 * 1024 * 1024
DEFAULT_PART_SIZE = 8 * 1024 * 1024


class S3MultipartSink(io.RawIOBase):
    def __init__(
        self,
        s3: Any,
        bucket: str,
        key: str,
        *,
        content_type: str,
        content_disposition: str | None = None,
        part_size: int = DEFAULT_PART_SIZE,
    ) -> None:
        if part_size < MIN_PART_SIZE:
            raise ValueError(f"S3 parts must be at least {MIN_PART_SIZE} bytes")
        super().__init__()
        self.s3, self.bucket, self.key, self.part_size = s3, bucket, key, part_size
        extra = {"ContentDisposition": content_disposition} if content_disposition else {}
        created = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type, **extra)
        self.upload_id: str = created["UploadId"]
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self._position = 0
        self.completed = False

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._buffer += view
        self._position += len(view)
        while len(self._buffer) >= self.part_size:
            chunk = bytes(self._buffer[: self.part_size])
            del self._buffer[: self.part_size]
            self._upload(chunk)
        return len(view)

    def tell(self) -> int:
        return self._position

    def seekable(self) -> bool:
        return False

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        # Refusing every seek tells zipfile to write data descriptors instead of patching headers.
        raise io.UnsupportedOperation("an S3 multipart upload only appends")

    @property
    def bytes_written(self) -> int:
        return self._position

    def _upload(self, chunk: bytes) -> None:
        number = len(self._parts) + 1
        answer = self.s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=chunk
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})

    def complete(self) -> None:
        """Upload what is buffered as the last part and make the object visible."""
        if self.completed:
            return
        if self._buffer or not self._parts:
            self._upload(bytes(self._buffer))
            self._buffer.clear()
        self.s3.complete_multipart_upload(
            Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": self._parts}
        )
        self.completed = True

    def abort(self) -> None:
        """Drop the parts uploaded so far (S3 would otherwise keep and bill them)."""
        if not self.completed:
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
            self._buffer.clear()
