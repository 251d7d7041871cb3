from dataclasses import dataclass


@dataclass
class Rect:
    width: float
    height: float

    def area(self) -> float:
        return self.width * self.height
