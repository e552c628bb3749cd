"""Hand-written tables for person names: surnames, surname readings, titles, nicknames.

Sources: the 2020 household-register surname ranking (Ministry of Public Security) for the order of the most
common surnames, the Hundred Family Surnames (百家姓) for the long tail and the compound surnames, and
common English hypocorisms for the nickname table.
"""

from __future__ import annotations

from typing import Final

#: Single-character surnames, most frequent first (rank = position; used to pick the family name in
#: ambiguous pinyin names such as "Wei Zhang").
COMMON_SURNAMES: Final = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任卢姚沈钟"
    "姜崔谭陆范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵万覃武钱戴严欧莫孔向常汤康易乔"
    "赖文施洪辛柯庄葛单"
)
#: Further single-character surnames (百家姓 and other well-attested ones), no particular order.
OTHER_SURNAMES: Final = (
    "鲁昌苗凤花俞柳酆鲍费廉岑倪滕殷毕邬安乐时傅皮卞齐伍元卜平和穆萧湛祁禹狄米贝明臧计伏成谈茅庞纪舒屈项祝阮蓝"
    "闵席季麻强路娄危童颜梅盛刁骆樊凌霍虞支昝管经房裘缪干解应宗宣贲郁杭包诸左吉钮嵇邢滑裴荣翁荀羊於惠甄曲家封"
    "芮羿储靳汲邴糜松井富巫乌焦巴弓牧隗山谷车宓蓬全郗班仰秋仲伊宫宁仇栾暴甘钭厉戎祖符景詹束幸司韶郜蓟薄印宿怀"
    "蒲邰从鄂索咸籍卓蔺屠蒙池阴胥能苍双闻莘党翟贡劳逄姬申扶堵冉宰郦雍却璩桑桂濮牛寿通边扈燕冀郏浦尚农温别晏柴"
    "瞿阎充慕连茹习宦艾鱼容古慎戈庾终暨居衡步都耿满弘匡国寇广禄阙东殳沃利蔚越夔隆师巩厍聂晁勾敖融冷訾阚那简饶"
    "空毋沙乜养鞠须丰巢关蒯相查后荆红游竺权逯盖益桓公朴区种秘佘岳帅缑亢况郈有琴归海晋楚闾法汝鄢涂钦商牟佴伯赏"
    "墨哈谯笪年爱阳佟言福蔡"
)
#: Compound (two-character) surnames.
COMPOUND_SURNAMES: Final = frozenset(
    {"欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "夏侯", "长孙", "宇文"}
    | {"司徒", "司空", "端木", "独孤", "南宫", "闻人", "轩辕", "澹台", "公冶", "太史", "申屠", "呼延", "万俟"}
    | {"钟离", "宗政", "濮阳", "淳于", "单于", "赫连", "拓跋", "百里", "东郭", "西门", "左丘", "梁丘", "公羊"}
    | {"谷梁", "第五", "鲜于", "闾丘", "亓官", "司寇", "子车", "颛孙", "壤驷", "公良", "漆雕", "乐正", "宰父"}
    | {"巫马", "羊舌", "微生", "公西", "仲孙", "公伯", "段干", "东门", "南门", "羊角", "呼延", "归海", "墨哈"}
)
#: Surname readings that differ from a character's most common reading (pypinyin reads 单 as dan, 曾 as ceng).
SURNAME_PINYIN: Final[dict[str, str]] = {
    "单": "shan",
    "曾": "zeng",
    "解": "xie",
    "仇": "qiu",
    "查": "zha",
    "朴": "piao",
    "区": "ou",
    "盖": "ge",
    "乐": "yue",
    "秘": "bi",
    "缪": "miao",
    "翟": "zhai",
    "种": "chong",
    "尉迟": "yuchi",
    "万俟": "moqi",
    "长孙": "zhangsun",
    "单于": "chanyu",
    "乐正": "yuezheng",
    "澹台": "tantai",
    "宓": "mi",
    "繁": "po",
    "隗": "wei",
    "能": "nai",
    "句": "gou",
    "召": "shao",
    "华": "hua",
    "覃": "qin",
    "员": "yun",
    "沈": "shen",
    "柏": "bai",
    "薄": "bo",
    "折": "she",
    "过": "guo",
    "纪": "ji",
    "莘": "shen",
    "祭": "zhai",
    "尉": "yu",
    "牟": "mou",
    "洗": "xian",
    "冼": "xian",
    "谌": "chen",
    "卜": "bu",
    "阚": "kan",
    "相": "xiang",
    "藏": "zang",
    "都": "du",
    "石": "shi",
    "和": "he",
    "行": "xing",
    "应": "ying",
    "宿": "su",
    "强": "qiang",
    "重": "chong",
    "殷": "yin",
}

#: Chinese titles and forms of address written after the name (王先生, 张总, 李经理), longest first.
CN_TITLES: Final = (
    "总经理",
    "董事长",
    "副总裁",
    "总裁",
    "总监",
    "副总",
    "先生",
    "女士",
    "小姐",
    "太太",
    "夫人",
    "经理",
    "老师",
    "教授",
    "博士",
    "主任",
    "医生",
    "律师",
    "老板",
    "书记",
    "局长",
    "处长",
    "科长",
    "厂长",
    "院长",
    "校长",
    "部长",
    "主管",
    "总",
    "工",
)
#: Western titles (lower-case, without the dot) → display form.
WESTERN_TITLES: Final[dict[str, str]] = {
    "mr": "Mr",
    "mister": "Mr",
    "mrs": "Mrs",
    "ms": "Ms",
    "miss": "Miss",
    "mx": "Mx",
    "dr": "Dr",
    "doctor": "Dr",
    "prof": "Prof",
    "professor": "Prof",
    "sir": "Sir",
    "dame": "Dame",
    "madam": "Madam",
    "mme": "Mme",
    "mlle": "Mlle",
    "rev": "Rev",
    "herr": "Herr",
    "frau": "Frau",
    "phd": "PhD",
}
#: Generational and academic suffixes: kept in the value, ignored when splitting and keying.
WESTERN_SUFFIXES: Final = frozenset({"jr", "sr", "ii", "iii", "iv", "md", "esq", "mba", "cpa"})
#: Lower-case particles that belong to the family name (van der Berg, de la Cruz).
SURNAME_PARTICLES: Final = frozenset(
    {"van", "von", "de", "der", "den", "del", "della", "di", "da", "du", "la", "le", "st", "ter", "ten"}
    | {"dos", "das", "bin", "binti", "al", "el", "mac"}
)

#: English nicknames → formal given name, used for ``name_key`` only.
NICKNAMES: Final[dict[str, str]] = {
    "bob": "robert",
    "bobby": "robert",
    "rob": "robert",
    "robbie": "robert",
    "bert": "robert",
    "bill": "william",
    "billy": "william",
    "will": "william",
    "willy": "william",
    "liam": "william",
    "jim": "james",
    "jimmy": "james",
    "jamie": "james",
    "mike": "michael",
    "mikey": "michael",
    "mick": "michael",
    "kate": "katherine",
    "katie": "katherine",
    "kathy": "katherine",
    "cathy": "katherine",
    "catherine": "katherine",
    "kathryn": "katherine",
    "liz": "elizabeth",
    "lizzie": "elizabeth",
    "beth": "elizabeth",
    "betty": "elizabeth",
    "eliza": "elizabeth",
    "tom": "thomas",
    "tommy": "thomas",
    "dick": "richard",
    "rick": "richard",
    "rich": "richard",
    "richie": "richard",
    "tony": "anthony",
    "chris": "christopher",
    "kit": "christopher",
    "dave": "david",
    "davy": "david",
    "dan": "daniel",
    "danny": "daniel",
    "joe": "joseph",
    "joey": "joseph",
    "jack": "john",
    "johnny": "john",
    "jon": "john",
    "ben": "benjamin",
    "benny": "benjamin",
    "sam": "samuel",
    "sammy": "samuel",
    "steve": "stephen",
    "steven": "stephen",
    "matt": "matthew",
    "nick": "nicholas",
    "andy": "andrew",
    "drew": "andrew",
    "alex": "alexander",
    "ed": "edward",
    "eddie": "edward",
    "ted": "edward",
    "greg": "gregory",
    "jeff": "jeffrey",
    "larry": "lawrence",
    "pat": "patrick",
    "pete": "peter",
    "ron": "ronald",
    "tim": "timothy",
    "jenny": "jennifer",
    "jen": "jennifer",
    "sue": "susan",
    "suzy": "susan",
    "peggy": "margaret",
    "maggie": "margaret",
    "meg": "margaret",
    "patty": "patricia",
    "trish": "patricia",
    "becky": "rebecca",
    "abby": "abigail",
    "vicky": "victoria",
    "mandy": "amanda",
}
