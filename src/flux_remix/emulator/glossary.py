"""A tiny Chinese→English glossary of image-prompt words, and a longest-match translator.

The emulated LLMs and m2m100 use it so translation is deterministic and the output never
contains CJK characters: unknown CJK characters are dropped, Latin text is kept as is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

GLOSSARY: Mapping[str, str] = {
    # subjects
    "猫": "cat",
    "小猫": "kitten",
    "猫咪": "cat",
    "狗": "dog",
    "小狗": "puppy",
    "女孩": "girl",
    "少女": "young girl",
    "男孩": "boy",
    "男人": "man",
    "女人": "woman",
    "老人": "old man",
    "孩子": "child",
    "婴儿": "baby",
    "人": "person",
    "鸟": "bird",
    "鱼": "fish",
    "马": "horse",
    "龙": "dragon",
    "狐狸": "fox",
    "狼": "wolf",
    "熊猫": "panda",
    "熊": "bear",
    "兔子": "rabbit",
    "老虎": "tiger",
    "狮子": "lion",
    "蝴蝶": "butterfly",
    "花": "flower",
    "花朵": "flowers",
    "玫瑰": "rose",
    "樱花": "cherry blossoms",
    "树": "tree",
    "森林": "forest",
    "山": "mountain",
    "山脉": "mountains",
    "雪山": "snowy mountain",
    "河": "river",
    "湖": "lake",
    "海": "sea",
    "大海": "ocean",
    "海滩": "beach",
    "沙漠": "desert",
    "天空": "sky",
    "云": "clouds",
    "星空": "starry sky",
    "星星": "stars",
    "月亮": "moon",
    "太阳": "sun",
    "日落": "sunset",
    "日出": "sunrise",
    "夕阳": "sunset",
    "雨": "rain",
    "雪": "snow",
    "雾": "fog",
    "城市": "city",
    "街道": "street",
    "建筑": "building",
    "房子": "house",
    "城堡": "castle",
    "寺庙": "temple",
    "桥": "bridge",
    "花园": "garden",
    "公园": "park",
    "村庄": "village",
    "夜晚": "night",
    "夜景": "night view",
    "晚上": "evening",
    "夜": "night",
    "白天": "daytime",
    "早晨": "morning",
    "春天": "spring",
    "夏天": "summer",
    "秋天": "autumn",
    "冬天": "winter",
    "机器人": "robot",
    "宇航员": "astronaut",
    "太空": "outer space",
    "宇宙": "universe",
    "星球": "planet",
    "汽车": "car",
    "飞机": "airplane",
    "船": "boat",
    "火车": "train",
    "自行车": "bicycle",
    "咖啡": "coffee",
    "蛋糕": "cake",
    "食物": "food",
    "水果": "fruit",
    "苹果": "apple",
    "书": "book",
    "剑": "sword",
    "武士": "samurai",
    "骑士": "knight",
    "公主": "princess",
    "王子": "prince",
    "天使": "angel",
    "恶魔": "demon",
    "精灵": "elf",
    "巫师": "wizard",
    "魔法": "magic",
    "窗户": "window",
    "房间": "room",
    "灯笼": "lantern",
    "雨伞": "umbrella",
    # attributes
    "可爱": "cute",
    "可爱的": "cute",
    "美丽": "beautiful",
    "美丽的": "beautiful",
    "漂亮": "pretty",
    "帅气": "handsome",
    "大": "big",
    "小": "small",
    "红色": "red",
    "蓝色": "blue",
    "绿色": "green",
    "黄色": "yellow",
    "白色": "white",
    "黑色": "black",
    "紫色": "purple",
    "粉色": "pink",
    "金色": "golden",
    "银色": "silver",
    "橙色": "orange",
    "彩色": "colorful",
    "明亮": "bright",
    "黑暗": "dark",
    "梦幻": "dreamy",
    "神秘": "mysterious",
    "古老": "ancient",
    "未来": "futuristic",
    "未来主义": "futurism",
    "现代": "modern",
    "复古": "retro",
    "安静": "quiet",
    "温暖": "warm",
    "寒冷": "cold",
    "快乐": "happy",
    "悲伤": "sad",
    "巨大": "huge",
    "长发": "long hair",
    "短发": "short hair",
    "微笑": "smiling",
    # styles and quality
    "动漫": "anime",
    "动漫风格": "anime style",
    "动画": "animation",
    "卡通": "cartoon",
    "油画": "oil painting",
    "水彩": "watercolor",
    "水彩画": "watercolor painting",
    "素描": "sketch",
    "国画": "traditional Chinese painting",
    "水墨": "ink wash",
    "水墨画": "ink wash painting",
    "赛博朋克": "cyberpunk",
    "蒸汽朋克": "steampunk",
    "像素": "pixel",
    "像素风": "pixel art",
    "写实": "realistic",
    "超写实": "hyperrealistic",
    "照片": "photo",
    "摄影": "photography",
    "电影感": "cinematic",
    "电影": "cinematic",
    "风格": "style",
    "插画": "illustration",
    "概念艺术": "concept art",
    "渲染": "render",
    "高清": "high definition",
    "超高清": "ultra high definition",
    "细节": "details",
    "高细节": "highly detailed",
    "精细": "detailed",
    "杰作": "masterpiece",
    "最佳质量": "best quality",
    "光影": "lighting",
    "灯光": "lights",
    "霓虹": "neon",
    "霓虹灯": "neon lights",
    "背景": "background",
    "肖像": "portrait",
    "风景": "landscape",
    "特写": "close-up",
    "全身": "full body",
    # function words and verbs
    "一只": "a",
    "一个": "a",
    "一位": "a",
    "一条": "a",
    "一座": "a",
    "一片": "a",
    "一群": "a group of",
    "的": "",
    "在": "in",
    "和": "and",
    "与": "and",
    "里": "",
    "上": "on",
    "下": "under",
    "中": "in",
    "着": "",
    "了": "",
    "很": "very",
    "非常": "very",
    "有": "with",
    "穿": "wearing",
    "穿着": "wearing",
    "戴着": "wearing",
    "拿着": "holding",
    "坐在": "sitting on",
    "站在": "standing on",
    "走在": "walking on",
    "飞": "flying",
    "飞翔": "flying",
    "跑": "running",
    "睡觉": "sleeping",
    "看": "looking at",
    "下雨": "raining",
    "下雪": "snowing",
}

_MAX_KEY = max(len(key) for key in GLOSSARY)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_SEPARATOR = re.compile(r"[\u3000-\u303f\uff00-\uffef,.;:!?\n\r\t]")


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def _phrase(words: list[str]) -> str:
    return " ".join(" ".join(w for w in words if w).split())


def translate(text: str) -> str:
    """Translate glossary words, keep Latin runs, drop other CJK; one comma-separated line."""
    phrases: list[str] = []
    words: list[str] = []
    latin: list[str] = []

    def flush_latin() -> None:
        if latin:
            words.append("".join(latin).strip())
            latin.clear()

    def flush_phrase() -> None:
        flush_latin()
        phrase = _phrase(words)
        if phrase:
            phrases.append(phrase)
        words.clear()

    index = 0
    while index < len(text):
        char = text[index]
        if _SEPARATOR.match(char):
            flush_phrase()
            index += 1
            continue
        if not _CJK.match(char):
            latin.append(char)
            index += 1
            continue
        flush_latin()
        for size in range(min(_MAX_KEY, len(text) - index), 0, -1):
            english = GLOSSARY.get(text[index : index + size])
            if english is not None:
                words.append(english)
                index += size
                break
        else:
            index += 1
    flush_phrase()
    return ", ".join(phrases) or "an image"
