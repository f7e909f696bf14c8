"""What the gate answers instead of running a route: a `Refusal` (a status and what to tell the
caller, as a page or as the API's JSON) or `LoginNeeded` (to the login page, then back)."""

from __future__ import annotations


class Refusal(Exception):
    """A request refused by the gate: its status and what to tell the caller."""

    def __init__(
        self, status: int, heading: str, *paragraphs: str, api: bool = False, close: bool = False
    ) -> None:
        super().__init__(heading)
        self.status, self.heading, self.paragraphs, self.api = status, heading, paragraphs, api
        self.close = close  # the body was not read to its end: close the connection


class LoginNeeded(Exception):
    """A console page asked for without a valid session: go to the login page, then come back."""

    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to
