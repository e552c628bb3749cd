"""Chinese provincial-level divisions and prefecture-level cities, hand-written (names only, no codes).

Used to strip a leading region from company names (山东省聊城市华兴… → 华兴…). Codes and the county level
come with the address normaliser later; this table is only what a brand key needs.
"""

from __future__ import annotations

import functools
from typing import Final

#: The 34 provincial-level divisions: full name → short name.
PROVINCES: Final[dict[str, str]] = {
    "北京市": "北京",
    "天津市": "天津",
    "上海市": "上海",
    "重庆市": "重庆",
    "河北省": "河北",
    "山西省": "山西",
    "辽宁省": "辽宁",
    "吉林省": "吉林",
    "黑龙江省": "黑龙江",
    "江苏省": "江苏",
    "浙江省": "浙江",
    "安徽省": "安徽",
    "福建省": "福建",
    "江西省": "江西",
    "山东省": "山东",
    "河南省": "河南",
    "湖北省": "湖北",
    "湖南省": "湖南",
    "广东省": "广东",
    "海南省": "海南",
    "四川省": "四川",
    "贵州省": "贵州",
    "云南省": "云南",
    "陕西省": "陕西",
    "甘肃省": "甘肃",
    "青海省": "青海",
    "台湾省": "台湾",
    "内蒙古自治区": "内蒙古",
    "广西壮族自治区": "广西",
    "西藏自治区": "西藏",
    "宁夏回族自治区": "宁夏",
    "新疆维吾尔自治区": "新疆",
    "香港特别行政区": "香港",
    "澳门特别行政区": "澳门",
}

#: Prefecture-level cities (short names; the full name adds 市) by province short name.
_CITIES: Final[dict[str, str]] = {
    "河北": "石家庄 唐山 秦皇岛 邯郸 邢台 保定 张家口 承德 沧州 廊坊 衡水",
    "山西": "太原 大同 阳泉 长治 晋城 朔州 晋中 运城 忻州 临汾 吕梁",
    "内蒙古": "呼和浩特 包头 乌海 赤峰 通辽 鄂尔多斯 呼伦贝尔 巴彦淖尔 乌兰察布",
    "辽宁": "沈阳 大连 鞍山 抚顺 本溪 丹东 锦州 营口 阜新 辽阳 盘锦 铁岭 朝阳 葫芦岛",
    "吉林": "长春 吉林 四平 辽源 通化 白山 松原 白城",
    "黑龙江": "哈尔滨 齐齐哈尔 鸡西 鹤岗 双鸭山 大庆 伊春 佳木斯 七台河 牡丹江 黑河 绥化",
    "江苏": "南京 无锡 徐州 常州 苏州 南通 连云港 淮安 盐城 扬州 镇江 泰州 宿迁",
    "浙江": "杭州 宁波 温州 嘉兴 湖州 绍兴 金华 衢州 舟山 台州 丽水",
    "安徽": "合肥 芜湖 蚌埠 淮南 马鞍山 淮北 铜陵 安庆 黄山 滁州 阜阳 宿州 六安 亳州 池州 宣城",
    "福建": "福州 厦门 莆田 三明 泉州 漳州 南平 龙岩 宁德",
    "江西": "南昌 景德镇 萍乡 九江 新余 鹰潭 赣州 吉安 宜春 抚州 上饶",
    "山东": "济南 青岛 淄博 枣庄 东营 烟台 潍坊 济宁 泰安 威海 日照 临沂 德州 聊城 滨州 菏泽",
    "河南": "郑州 开封 洛阳 平顶山 安阳 鹤壁 新乡 焦作 濮阳 许昌 漯河 三门峡 南阳 商丘 信阳 周口 驻马店 济源",
    "湖北": "武汉 黄石 十堰 宜昌 襄阳 鄂州 荆门 孝感 荆州 黄冈 咸宁 随州 仙桃 潜江 天门",
    "湖南": "长沙 株洲 湘潭 衡阳 邵阳 岳阳 常德 张家界 益阳 郴州 永州 怀化 娄底",
    "广东": "广州 韶关 深圳 珠海 汕头 佛山 江门 湛江 茂名 肇庆 惠州 梅州 汕尾 河源 阳江 清远 东莞 中山 潮州 揭阳 云浮",
    "广西": "南宁 柳州 桂林 梧州 北海 防城港 钦州 贵港 玉林 百色 贺州 河池 来宾 崇左",
    "海南": "海口 三亚 三沙 儋州",
    "四川": "成都 自贡 攀枝花 泸州 德阳 绵阳 广元 遂宁 内江 乐山 南充 眉山 宜宾 广安 达州 雅安 巴中 资阳",
    "贵州": "贵阳 六盘水 遵义 安顺 毕节 铜仁",
    "云南": "昆明 曲靖 玉溪 保山 昭通 丽江 普洱 临沧",
    "西藏": "拉萨 日喀则 昌都 林芝 山南 那曲",
    "陕西": "西安 铜川 宝鸡 咸阳 渭南 延安 汉中 榆林 安康 商洛",
    "甘肃": "兰州 嘉峪关 金昌 白银 天水 武威 张掖 平凉 酒泉 庆阳 定西 陇南",
    "青海": "西宁 海东",
    "宁夏": "银川 石嘴山 吴忠 固原 中卫",
    "新疆": "乌鲁木齐 克拉玛依 吐鲁番 哈密 石河子",
    "台湾": "台北 新北 桃园 台中 台南 高雄 基隆 新竹 嘉义",
    # well-known county-level cities that brand names often start with
    "县级市": "义乌 昆山 江阴 张家港 常熟 晋江 石狮 慈溪 余姚 诸暨 温岭 乐清 瑞安 宜兴 太仓 顺德",
}

#: Autonomous prefectures, leagues and prefectures (full names; no 市 form).
_OTHER_PREFECTURES: Final = (
    "延边朝鲜族自治州",
    "大兴安岭地区",
    "兴安盟",
    "锡林郭勒盟",
    "阿拉善盟",
    "恩施土家族苗族自治州",
    "湘西土家族苗族自治州",
    "阿坝藏族羌族自治州",
    "甘孜藏族自治州",
    "凉山彝族自治州",
    "黔西南布依族苗族自治州",
    "黔东南苗族侗族自治州",
    "黔南布依族苗族自治州",
    "楚雄彝族自治州",
    "红河哈尼族彝族自治州",
    "文山壮族苗族自治州",
    "西双版纳傣族自治州",
    "大理白族自治州",
    "德宏傣族景颇族自治州",
    "怒江傈僳族自治州",
    "迪庆藏族自治州",
    "阿里地区",
    "临夏回族自治州",
    "甘南藏族自治州",
    "海北藏族自治州",
    "黄南藏族自治州",
    "海南藏族自治州",
    "果洛藏族自治州",
    "玉树藏族自治州",
    "海西蒙古族藏族自治州",
    "昌吉回族自治州",
    "博尔塔拉蒙古自治州",
    "巴音郭楞蒙古自治州",
    "阿克苏地区",
    "克孜勒苏柯尔克孜自治州",
    "喀什地区",
    "和田地区",
    "伊犁哈萨克自治州",
    "塔城地区",
    "阿勒泰地区",
)

#: Romanisations that differ from plain pinyin, or English names, added to the pinyin region set.
_EXTRA_ROMANISED: Final = frozenset(
    {"shaanxi", "innermongolia", "tibet", "hongkong", "macau", "macao", "peking", "canton", "amoy", "china"}
    | {"prc", "xian", "ordos", "harbin", "urumqi", "hohhot", "lhasa", "kashgar"}
)
#: Pinyin that pypinyin gets wrong for a place name.
_PLACE_PINYIN: Final[dict[str, str]] = {
    "朝阳": "chaoyang",
    "长治": "changzhi",
    "长春": "changchun",
    "长沙": "changsha",
    "六安": "luan",
    "六盘水": "liupanshui",
    "乐山": "leshan",
    "乐清": "yueqing",
    "蚌埠": "bengbu",
    "重庆": "chongqing",
    "厦门": "xiamen",
    "丽水": "lishui",
    "丽江": "lijiang",
    "大理": "dali",
    "东莞": "dongguan",
    "莆田": "putian",
    "吕梁": "lvliang",
}


@functools.cache
def region_names() -> tuple[str, ...]:
    """Every region spelling to strip from the front of a company name, longest first."""
    names: set[str] = {"中国", "中华人民共和国"}
    for full, short in PROVINCES.items():
        names.update((full, short))
        if full.endswith("省"):
            names.add(short + "省")
    for cities in _CITIES.values():
        for city in cities.split():
            names.update((city, city + "市"))
    for prefecture in _OTHER_PREFECTURES:
        names.add(prefecture)
    return tuple(sorted(names, key=len, reverse=True))


@functools.cache
def short_region_names() -> frozenset[str]:
    """Short region names (without 省/市/自治区), the forms found in brackets and after a brand."""
    shorts = set(PROVINCES.values())
    for cities in _CITIES.values():
        shorts.update(cities.split())
    return frozenset(shorts)


@functools.cache
def region_pinyin() -> frozenset[str]:
    """Pinyin (no spaces, lower-case) of every province and city short name, plus common English names."""
    from ._pinyin import text_pinyin

    out = set(_EXTRA_ROMANISED)
    for name in short_region_names():
        out.add(_PLACE_PINYIN.get(name) or text_pinyin(name))
    return frozenset(out)


@functools.cache
def regions_by_first_char() -> dict[str, tuple[str, ...]]:
    """:func:`region_names` grouped by first character (longest first), for fast prefix tests."""
    index: dict[str, list[str]] = {}
    for name in region_names():
        index.setdefault(name[0], []).append(name)
    return {char: tuple(names) for char, names in index.items()}


@functools.cache
def regions_by_last_char() -> dict[str, tuple[str, ...]]:
    """:func:`region_names` grouped by last character (longest first), for fast suffix tests."""
    index: dict[str, list[str]] = {}
    for name in region_names():
        index.setdefault(name[-1], []).append(name)
    return {char: tuple(names) for char, names in index.items()}
