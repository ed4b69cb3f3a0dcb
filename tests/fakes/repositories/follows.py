"""In-memory follows, as the SQL repository keeps them."""

from collections.abc import Sequence

from mimic.domain.follows import FollowChoices, SourceFollow
from mimic.ports.repositories import SourceFollowRepository


class InMemorySourceFollowRepository(SourceFollowRepository):
    def __init__(self) -> None:
        self._by_user: dict[str, list[SourceFollow]] = {}

    async def list_for_user(self, user_id: str) -> list[SourceFollow]:
        return sorted(self._by_user.get(user_id, []), key=lambda f: f.source_id)

    async def replace_for_user(self, user_id: str, follows: Sequence[SourceFollow]) -> None:
        if follows:
            self._by_user[user_id] = list(follows)
        else:
            self._by_user.pop(user_id, None)

    async def choices_for(self, source_id: str) -> FollowChoices:
        return FollowChoices(
            source_id=source_id,
            choosers=frozenset(self._by_user),
            follows={
                user_id: f
                for user_id, follows in self._by_user.items()
                for f in follows
                if f.source_id == source_id
            },
        )
