from labeling.projects.taxonomy import WELLBEING_KEYS

from .models import User


def set_harm_opt_ins(*, user: User, keys: list[str]) -> User:
    """Store the harm categories a trainer agrees to read, in the taxonomy's order."""
    user.harm_opt_ins = [k for k in WELLBEING_KEYS if k in set(keys)]
    user.save(update_fields=["harm_opt_ins"])
    return user
