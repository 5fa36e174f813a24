from .netns import pair

__all__ = ["pair"]
