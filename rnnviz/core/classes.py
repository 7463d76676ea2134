"""The news classes: THUCNews's ten in their class.txt order, cnews's ten, and how a class name
is shown in each language (THUCNews's English names in Chinese, cnews's Chinese in English)."""

from __future__ import annotations

# THUCNews class.txt order: line index = label id.
THUCNEWS_CLASSES = (
    "finance", "realty", "stocks", "education", "science",
    "society", "politics", "sports", "game", "entertainment",
)
# The order the classic TensorFlow cnews project hard-codes (pass it as ``classes`` to match
# that project's ids; by default cnews classes are sorted instead).
CNEWS_CLASSES = ("体育", "财经", "房产", "家居", "教育", "科技", "时尚", "时政", "游戏", "娱乐")

CLASS_NAMES_ZH = {
    "finance": "财经", "realty": "房产", "stocks": "股票", "education": "教育",
    "science": "科技", "society": "社会", "politics": "时政", "sports": "体育",
    "game": "游戏", "entertainment": "娱乐",
}
CLASS_NAMES_EN = {
    **{zh: en for en, zh in CLASS_NAMES_ZH.items()},
    "家居": "home", "时尚": "fashion",
}


def display_class(name: str, lang: str = "zh") -> str:
    """A class name for display: THUCNews's English names in Chinese, cnews's Chinese in English.

    Unknown names come back unchanged.
    """
    return (CLASS_NAMES_EN if lang == "en" else CLASS_NAMES_ZH).get(name, name)


__all__ = ["CLASS_NAMES_EN", "CLASS_NAMES_ZH", "CNEWS_CLASSES", "THUCNEWS_CLASSES",
           "display_class"]
