"""Chinese names: surnames by real frequency, given names by sex and birth cohort, homophones.

The linkage engine has to cope with what real names do: a few surnames cover most people (王,
李 and 张 alone are a fifth of China), one-character given names are common, fashions change
by cohort (建国, 秀英 for the old; 梓涵, 浩宇 for the young), and enumerators write a
same-sounding character (同音字) for the one meant. Every given-name character here belongs to
a homophone group, so any name can carry a homophone error.
"""

from __future__ import annotations

import numpy as np

# Approximate shares (per 10,000 people) of the commonest Chinese surnames, rounded from the
# Ministry of Public Security's 2020 household-registration statistics and earlier surveys.
_SURNAMES = """
王712 李700 张674 刘510 陈461 杨322 黄245 赵219 吴200 周195 徐145 孙138 马129 朱128 胡116
郭113 何106 高100 林97 罗86 郑78 梁76 谢68 宋63 唐60 许58 韩56 冯55 邓54 曹52 彭51 曾49
肖48 田47 董46 袁45 潘44 于43 蒋42 蔡41 余40 杜39 叶38 程37 苏36 魏35 吕34 丁33 任32
沈31 姚30 卢30 姜29 崔28 钟27 谭27 陆26 汪26 范25 金25 石24 廖24 贾23 夏23 韦22 付22
方21 白21 邹20 孟20 熊19 秦19 邱19 江18 尹18 薛17 闫17 段17 雷16 侯16 龙16 史15 陶15
黎15 贺14 顾14 毛14 郝13 龚13 邵13 万13 钱12 严12 覃12 武12 戴12 莫11 孔11 向11 汤11
常10 温10 康10 施10 文10 牛10 樊10 葛9 邢9 安9 齐9 易9 乔9 伍9 庞9 颜9 倪9 庄8 聂8
章8 鲁8 岳8 翟8 殷8 詹8 申8 欧阳7 耿7 关7 兰7 焦7 俞7 左7 柳7 甘7 祝6 包6 宁6 尚6
符6 舒6 阮6 柯6 纪6 梅6 童6 凌6 毕6 单5 季5 裴5 霍5 涂5 成5 苗5 谷5 盛5 曲5 翁5
"""


def _parse_surnames(text: str) -> tuple[np.ndarray, np.ndarray]:
    names, weights = [], []
    for token in text.split():
        head = token.rstrip("0123456789")
        names.append(head)
        weights.append(float(token[len(head):]))
    w = np.array(weights)
    return np.array(names, dtype=object), w / w.sum()


SURNAMES, SURNAME_P = _parse_surnames(_SURNAMES)

#: Groups of characters read alike in Mandarin (same syllable, mostly the same tone), each a
#: plausible slip for the others when a name is heard rather than read.
HOMOPHONE_GROUPS: tuple[str, ...] = (
    "明铭鸣茗", "伟玮炜纬", "丽莉俐利", "静婧靖", "晶菁精", "军君钧均", "峰锋枫丰", "华桦骅",
    "芳方舫", "娜纳", "敏闽珉", "燕艳雁彦", "娟鹃涓", "霞侠", "玲铃凌羚", "琳林霖淋", "婷亭庭廷",
    "慧惠蕙卉", "红虹宏鸿弘", "萍平苹", "颖影", "莹盈滢", "倩茜", "梅玫媚", "兰岚蓝澜",
    "月悦越跃", "欣新鑫馨昕", "怡仪宜贻", "佳嘉家", "琴勤芹", "云芸耘", "洁杰婕捷", "丹聃",
    "蓉荣容融", "强蔷", "磊蕾垒", "勇永咏泳", "涛韬滔", "斌彬滨", "超朝", "刚钢纲",
    "辉晖徽", "鹏朋", "飞菲霏", "博柏泊", "宇羽雨禹", "浩昊皓灏", "凯恺铠", "健建剑",
    "俊峻骏", "帆凡繁", "旭煦", "宁凝柠", "龙隆珑", "阳杨扬洋", "国帼", "志智致",
    "文雯闻", "东冬栋", "晨辰宸", "亮靓", "成诚承城", "兵冰", "秀绣", "英瑛莺樱", "桂贵",
    "珍真桢", "梓子紫", "涵晗含", "轩萱宣暄", "睿瑞锐", "思丝斯", "晓筱", "振震", "泽择",
    "凤奉", "德得", "琪祺淇琦", "玉钰昱煜", "春椿", "雅亚娅", "梦孟", "诗师", "逸毅艺益",
)

HOMOPHONE_OF: dict[str, str] = {ch: group for group in HOMOPHONE_GROUPS for ch in group}

# Given-name pools: characters used at any time, and those typical of older (born before
# 1970) and younger (born 1995 on) cohorts. Repeating a character raises its weight.
_POOLS = {
    ("1", "common"): "伟伟明明军峰强强磊勇涛斌超刚辉鹏飞博宇浩凯健俊帆旭龙阳志文东晨亮成兵杰杰鑫宏永荣林晓佳振泽德春",
    ("1", "old"): "国国建建华华军军平平明志德荣春兵刚",
    ("1", "young"): "子梓浩浩宇宇轩轩睿逸晨博泽思嘉鑫",
    ("2", "common"): "芳芳丽丽静静娜敏燕娟霞玲琳婷婷慧红萍颖莹倩梅兰月欣怡佳琴云洁丹蓉晶雯悦婧莉菲宁",
    ("2", "old"): "秀秀英英兰兰桂桂珍珍凤凤红红芳梅玉玉萍霞春",
    ("2", "young"): "梓涵涵萱萱欣欣怡怡诗梦雅琪琪馨思悦子晨",
}


def pool(sex: str, cohort: int) -> np.ndarray:
    """Characters (with repeats as weights) for a sex code and cohort 0 old, 1 middle, 2 young."""
    chars = _POOLS[(sex, "common")]
    if cohort == 0:
        chars += _POOLS[(sex, "old")] * 2
    elif cohort == 2:
        chars += _POOLS[(sex, "young")] * 2
    return np.array(list(chars), dtype="<U1")


def all_given_chars() -> set[str]:
    """Every character the given-name pools can produce."""
    return {ch for text in _POOLS.values() for ch in text}


def cohort_of(birth_year: np.ndarray) -> np.ndarray:
    """0 for birth years before 1970, 2 from 1995, 1 in between."""
    return np.where(birth_year < 1970, 0, np.where(birth_year >= 1995, 2, 1))


def draw_surnames(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` surnames drawn by frequency (object array)."""
    return SURNAMES[rng.choice(len(SURNAMES), size=n, p=SURNAME_P)]


def draw_given(rng: np.random.Generator, sex: np.ndarray, birth_year: np.ndarray,
               single_share: float) -> np.ndarray:
    """Given names (1 or 2 distinct characters) by sex code and birth cohort (object array)."""
    n = len(sex)
    out = np.empty(n, dtype="<U2")
    single = rng.random(n) < single_share
    cohort = cohort_of(birth_year)
    u1, u2 = rng.random(n), rng.random(n)
    for sex_code in ("1", "2"):
        for c in (0, 1, 2):
            idx = np.flatnonzero((sex == sex_code) & (cohort == c))
            if idx.size == 0:
                continue
            chars = pool(sex_code, c)
            k = len(chars)
            a = (u1[idx] * k).astype(np.int64)
            b = (u2[idx] * k).astype(np.int64)
            same = chars[a] == chars[b]
            b[same] = (b[same] + 1 + (u2[idx][same] * 7).astype(np.int64)) % k
            same = chars[a] == chars[b]          # a repeated character may still coincide
            b[same] = (b[same] + 1) % k
            two = np.char.add(chars[a], chars[b])
            out[idx] = np.where(single[idx], chars[a], two)
    return out.astype(object)


def homophone(rng: np.random.Generator, name: str, surname_len: int) -> str:
    """The name with one given-name character replaced by a different homophone."""
    positions = [i for i in range(surname_len, len(name)) if len(HOMOPHONE_OF.get(name[i], "")) > 1]
    if not positions:
        return name
    i = positions[int(rng.integers(len(positions)))]
    others = [c for c in HOMOPHONE_OF[name[i]] if c != name[i]]
    return name[:i] + others[int(rng.integers(len(others)))] + name[i + 1:]
