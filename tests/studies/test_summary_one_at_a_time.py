"""The parent run's summary is written by one lane at a time: two concurrent writes of the same new metric keys
made MLflow's SQL store on PostgreSQL fail one of them (UniqueViolation on latest_metrics), ending the study."""
from __future__ import annotations

import threading

from studies.tracking import StudyTracker


def test_a_summary_is_skipped_by_a_lane_while_another_writes_it_and_awaited_at_the_end():
    tracker = StudyTracker.__new__(StudyTracker)  # the summary's lock alone: no store needed
    tracker._summary_lock = threading.Lock()
    inside, release, writes = threading.Event(), threading.Event(), []

    def slow_write() -> None:
        writes.append(threading.current_thread().name)
        inside.set()
        release.wait(10)

    tracker._write_summary = slow_write
    lane = threading.Thread(target=tracker.log_summary, kwargs={"wait": False}, name="lane-1")
    lane.start()
    assert inside.wait(10)
    tracker.log_summary(wait=False)  # another lane's trial ended meanwhile: skipped, not written twice at once
    assert writes == ["lane-1"]
    final = threading.Thread(target=tracker.log_summary, name="end")  # end_study waits its turn
    final.start()
    final.join(0.2)
    assert final.is_alive() and writes == ["lane-1"]
    release.set()
    lane.join(10)
    final.join(10)
    assert writes == ["lane-1", "end"]
