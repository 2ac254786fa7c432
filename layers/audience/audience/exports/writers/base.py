"""The shape every export writer shares, apart from the package's ``open_writer`` so the writers
import it without importing the package that picks among them (no import cycle)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO

from audience.fields import FieldCatalog

Row = Mapping[str, Any]


class ExportWriter(ABC):
    """Writes rows (``{"contact_id", **fields}``) as the columns named, in that order."""

    def __init__(self, sink: BinaryIO, columns: Sequence[str], catalog: FieldCatalog) -> None:
        self.sink = sink
        self.columns = list(columns)
        self.catalog = catalog
        self.types = {name: catalog.type_of(name) for name in self.columns}

    @abstractmethod
    def write_rows(self, rows: Sequence[Row]) -> int:
        """Write a page; answer how many rows went into the file."""

    def write_batch(self, batch: Any) -> int:
        """Write a typed record batch (``columnar.contacts_schema`` layout); answer how many rows went
        into the file. Formats that render per row get the batch's rows in stored form; csv and
        parquet override this with whole-column work."""
        from audience.exports.arrow_cells import batch_rows

        return self.write_rows(batch_rows(batch, self.columns, self.types))

    def close(self) -> None:  # noqa: B027 - most formats have nothing to finish
        """Finish the file (footers, zip directory). The sink itself is closed by its owner."""
