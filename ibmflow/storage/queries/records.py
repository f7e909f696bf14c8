"""Named queries of the facts the coordinator records: task forces, chapters, the adoption."""

from __future__ import annotations

from sqlmodel import Session, select

from ibmflow.storage.tables import AdoptionRow, ChapterRow, ProcessRow, TaskForceRow


def task_force(session: Session, process: ProcessRow, name: str) -> TaskForceRow | None:
    """The task force of that name, if the process has one."""
    return session.exec(
        select(TaskForceRow).where(TaskForceRow.process_id == process.id, TaskForceRow.name == name)
    ).first()


def chapter(session: Session, process: ProcessRow, title: str) -> ChapterRow | None:
    """The chapter of that title, if the process has one."""
    return session.exec(
        select(ChapterRow).where(ChapterRow.process_id == process.id, ChapterRow.title == title)
    ).first()


def adoption(session: Session, process: ProcessRow) -> AdoptionRow | None:
    """The adoption of the strategy, once recorded."""
    return session.exec(select(AdoptionRow).where(AdoptionRow.process_id == process.id)).first()
