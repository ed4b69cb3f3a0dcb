"""A fake of the DependencyProbe port (mimic.ports.health)."""


class FakeProbe:
    """A dependency that answers with the problem it was given (None: it answers)."""

    def __init__(self, dependency: str, problem: str | None = None) -> None:
        self.dependency = dependency
        self.problem_given = problem
        self.asked = 0

    async def problem(self) -> str | None:
        self.asked += 1
        return self.problem_given
