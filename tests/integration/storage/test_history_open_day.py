"""``history_repo.range`` answers each date from every place its history is kept: the day item (runs,
static changes, the stream's batches), the open day a lone stream change keeps on the segment item,
and that open day once written out (``DAY#{date}#open``): counts add up, the total is the last set."""

from audience.settings import get_settings
from audience.storage import history_repo, segments_repo
from audience.storage.base import connection
from audience.storage.models import HistoryDayItem, SegmentItem, history_pk, tenant_pk


def _open(tenant: str, segment_id: str, day: str, added: int, removed: int, total: int, at: str) -> None:
    SegmentItem._get_connection().update_item(  # as the stream writes it: not a versioned segment write
        tenant_pk(tenant),
        range_key=segments_repo.PREFIX + segment_id,
        actions=[
            SegmentItem.day.set(day),
            SegmentItem.day_added.set(added),
            SegmentItem.day_removed.set(removed),
            SegmentItem.day_total.set(total),
            SegmentItem.day_at.set(at),
        ],
    )


def _written_out(tenant: str, segment_id: str, opened: history_repo.OpenDay) -> None:
    table = get_settings().main_table
    connection().client.transact_write_items(
        TransactItems=[history_repo.open_day_item(table, tenant, segment_id, opened)]
    )


def test_a_date_sums_its_day_item_its_written_out_open_day_and_the_open_day_taking_the_last_total(aws):
    segments_repo.create(
        "acme", name="s", type="dynamic", segment_id="s1", rules={"field": "a", "op": "eq", "value": 1}
    )
    # before ``at`` existed: a day item without it counts as older than any that has it
    HistoryDayItem(history_pk("acme", "s1"), "DAY#2024-05-01", added=4, removed=0, total=4).save()
    _written_out("acme", "s1", history_repo.OpenDay("2024-05-01", 2, 1, 5, "2024-05-01T10:00:00.000Z"))
    # a run on 05-02 after the stream's last change of that day: its total stands
    _written_out("acme", "s1", history_repo.OpenDay("2024-05-02", 1, 0, 6, "2024-05-02T09:00:00.000Z"))
    history_repo.add_day("acme", "s1", "2024-05-02", 3, 0, 9)  # at = now, later than 2024-05-02T09:00
    _open("acme", "s1", "2024-05-03", 2, 2, 9, "2024-05-03T08:00:00.000Z")
    days = history_repo.range("acme", "s1", "2024-05-01", "2024-05-03")
    assert [(d.date, d.added, d.removed, d.total) for d in days] == [
        ("2024-05-01", 6, 1, 5),
        ("2024-05-02", 4, 0, 9),
        ("2024-05-03", 2, 2, 9),
    ]
    # ranges see only their dates: the written-out day on the last date, not the open day after it
    assert [(d.date, d.added) for d in history_repo.range("acme", "s1", "2024-05-02", "2024-05-02")] == [
        ("2024-05-02", 4)
    ]
    assert history_repo.range("acme", "s1", "2024-05-04", "2024-05-31") == []
    assert history_repo.range("globex", "s1", "2024-05-01", "2024-05-31") == []  # another tenant's: none
    # the open day written later than a day item's total takes the total
    history_repo.add_day("acme", "s1", "2024-06-01", 1, 0, 10)
    _open("acme", "s1", "2024-06-01", 1, 0, 11, "2999-01-01T00:00:00.000Z")
    [june] = history_repo.range("acme", "s1", "2024-06-01", "2024-06-01")
    assert (june.added, june.removed, june.total) == (2, 0, 11)


def test_a_deleted_segment_takes_its_open_day_and_written_out_days_with_it(aws):
    segments_repo.create(
        "acme", name="s", type="dynamic", segment_id="s1", rules={"field": "a", "op": "eq", "value": 1}
    )
    _written_out("acme", "s1", history_repo.OpenDay("2024-05-01", 2, 1, 5, "2024-05-01T10:00:00.000Z"))
    _open("acme", "s1", "2024-05-02", 1, 0, 6, "2024-05-02T10:00:00.000Z")
    history_repo.delete_all("acme", "s1")
    segments_repo.delete("acme", "s1")
    assert history_repo.range("acme", "s1", "2024-05-01", "2024-05-31") == []
