"""Data tables for the sample generator: names, places, companies, header variants.

Plain tuples and dicts only (no sets: iteration order must not depend on the hash seed).
"""

from __future__ import annotations

from typing import Final

# fmt: off

# --------------------------------------------------------------------------------------------------------
# Chinese people
# --------------------------------------------------------------------------------------------------------

#: Surnames with rough relative frequencies (per cent of the population), most common first.
#: Includes compound surnames and surnames that pypinyin reads wrongly without a surname table.
SURNAMES: Final[tuple[tuple[str, float], ...]] = (
    ("王", 7.25), ("李", 7.19), ("张", 6.83), ("刘", 5.38), ("陈", 4.53), ("杨", 3.08), ("黄", 2.23),
    ("赵", 2.19), ("吴", 2.05), ("周", 1.91), ("徐", 1.57), ("孙", 1.54), ("马", 1.29), ("朱", 1.27),
    ("胡", 1.15), ("郭", 1.13), ("何", 1.06), ("林", 1.03), ("高", 1.00), ("罗", 0.90), ("郑", 0.80),
    ("梁", 0.80), ("谢", 0.70), ("宋", 0.60), ("唐", 0.60), ("许", 0.60), ("韩", 0.50), ("冯", 0.50),
    ("邓", 0.50), ("曹", 0.50), ("彭", 0.50), ("曾", 0.50), ("肖", 0.45), ("田", 0.40), ("董", 0.40),
    ("袁", 0.40), ("潘", 0.40), ("于", 0.40), ("蒋", 0.40), ("蔡", 0.40), ("余", 0.35), ("杜", 0.35),
    ("叶", 0.35), ("程", 0.35), ("苏", 0.30), ("魏", 0.30), ("吕", 0.30), ("丁", 0.30), ("任", 0.30),
    ("沈", 0.30), ("姚", 0.25), ("卢", 0.25), ("姜", 0.25), ("崔", 0.25), ("钟", 0.25), ("谭", 0.25),
    ("陆", 0.25), ("汪", 0.20), ("范", 0.20), ("金", 0.20), ("石", 0.20), ("廖", 0.20), ("贾", 0.20),
    ("夏", 0.20), ("韦", 0.20), ("付", 0.20), ("方", 0.20), ("白", 0.20), ("邹", 0.20), ("孟", 0.20),
    ("熊", 0.20), ("秦", 0.20), ("邱", 0.20), ("江", 0.20), ("尹", 0.20), ("薛", 0.20), ("闫", 0.20),
    ("段", 0.20), ("雷", 0.20), ("侯", 0.20), ("龙", 0.15), ("史", 0.15), ("陶", 0.15), ("黎", 0.15),
    ("贺", 0.15), ("顾", 0.15), ("毛", 0.15), ("郝", 0.15), ("龚", 0.15), ("邵", 0.15), ("万", 0.15),
    ("钱", 0.15), ("严", 0.15), ("覃", 0.10), ("武", 0.10), ("戴", 0.10), ("莫", 0.10), ("孔", 0.10),
    ("单", 0.10), ("欧阳", 0.08), ("翟", 0.06), ("解", 0.04), ("仇", 0.03), ("查", 0.03), ("朴", 0.03),
    ("区", 0.02), ("盖", 0.02), ("缪", 0.03), ("司马", 0.02), ("诸葛", 0.02), ("上官", 0.02), ("皇甫", 0.01),
)

#: Surname readings that differ from the character's everyday reading (pypinyin gets these wrong).
SURNAME_PINYIN: Final[dict[str, str]] = {
    "单": "shan", "曾": "zeng", "解": "xie", "仇": "qiu", "查": "zha", "朴": "piao", "区": "ou",
    "盖": "ge", "缪": "miao", "覃": "qin", "翟": "zhai", "欧阳": "ouyang", "司马": "sima",
    "诸葛": "zhuge", "上官": "shangguan", "皇甫": "huangfu", "万": "wan", "秦": "qin",
}

GIVEN_CHARS_MALE: Final[str] = (
    "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆帅旭宁龙林阳建国志文东海峰亮成晨博然轩"
    "子豪毅航瑞振庆德玉春广永新彬锋松"
)
GIVEN_CHARS_FEMALE: Final[str] = (
    "芳娜敏静丽艳娟霞燕玲婷雪慧颖琳倩洁晶欣怡佳琪萍红梅兰玉秀英月莉丹蕾璐悦涵诗雨思梦晓嘉"
    "云凤桂珍璐瑶薇菲"
)

#: Characters that are easily confused when typed by ear (same or close pinyin): used for typos.
HOMOPHONES: Final[dict[str, str]] = {
    "伟": "玮炜维薇", "丽": "莉俐力", "静": "婧晶敬", "敏": "民闵", "杰": "洁捷", "娜": "纳", "军": "君均",
    "强": "墙蔷", "磊": "蕾雷", "涛": "韬滔", "明": "鸣铭", "华": "桦骅", "飞": "菲非",
    "波": "博", "斌": "彬滨",
    "宇": "雨羽语", "浩": "昊皓", "凯": "楷恺", "健": "建剑", "俊": "骏峻", "芳": "方舫", "艳": "燕彦",
    "娟": "鹃涓", "霞": "侠", "燕": "艳雁", "玲": "琳铃龄", "婷": "亭庭", "雪": "学", "慧": "惠蕙",
    "颖": "莹盈", "琳": "林霖", "倩": "茜", "洁": "杰", "晶": "静菁", "欣": "心馨", "怡": "宜仪",
    "佳": "家嘉", "琪": "琦淇祺", "萍": "平苹", "红": "虹鸿", "梅": "玫媚", "兰": "岚蓝", "英": "瑛莺",
    "莉": "丽俐", "丹": "单", "悦": "月越", "涵": "晗", "思": "丝斯", "梦": "孟", "晓": "小筱", "嘉": "佳",
    "国": "帼", "志": "智治", "文": "雯", "东": "冬栋", "峰": "锋丰", "亮": "靓", "成": "诚程",
    "晨": "辰宸", "建": "健剑", "林": "琳霖", "阳": "扬洋", "平": "萍", "鹏": "朋",
    "鑫": "新馨", "新": "欣鑫",
    "张": "章", "王": "汪", "李": "黎", "刘": "柳", "陈": "程", "杨": "阳", "黄": "王", "徐": "许",
}

#: Very common full names: several different people share each of them (hard negatives).
COMMON_FULL_NAMES: Final[tuple[tuple[str, str, str], ...]] = (
    # (family, given, gender)
    ("张", "伟", "M"), ("王", "伟", "M"), ("王", "芳", "F"), ("李", "伟", "M"), ("李", "娜", "F"),
    ("张", "敏", "F"), ("李", "静", "F"), ("王", "静", "F"), ("刘", "伟", "M"), ("王", "秀英", "F"),
    ("张", "丽", "F"), ("李", "强", "M"), ("王", "磊", "M"), ("刘", "洋", "M"), ("王", "勇", "M"),
    ("李", "军", "M"), ("张", "杰", "M"), ("王", "强", "M"), ("李", "娟", "F"), ("陈", "静", "F"),
)

#: Given names typical of fathers born in the 1950s-60s (father and son sometimes share them).
FATHER_GIVEN_NAMES: Final[tuple[str, ...]] = ("建国", "建军", "国强", "志强", "永红", "卫东", "国庆", "建华")

# --------------------------------------------------------------------------------------------------------
# Western people
# --------------------------------------------------------------------------------------------------------

#: (first name, gender, nicknames)
WESTERN_FIRST: Final[tuple[tuple[str, str, tuple[str, ...]], ...]] = (
    ("John", "M", ("Johnny", "Jack")), ("Robert", "M", ("Bob", "Rob", "Bobby")),
    ("William", "M", ("Bill", "Will")),
    ("James", "M", ("Jim", "Jimmy")), ("Michael", "M", ("Mike",)), ("Richard", "M", ("Rick", "Dick")),
    ("Thomas", "M", ("Tom", "Tommy")), ("Christopher", "M", ("Chris",)), ("Daniel", "M", ("Dan", "Danny")),
    ("Matthew", "M", ("Matt",)), ("Joseph", "M", ("Joe",)), ("David", "M", ("Dave",)),
    ("Steven", "M", ("Steve",)), ("Anthony", "M", ("Tony",)), ("Andrew", "M", ("Andy", "Drew")),
    ("Alexander", "M", ("Alex",)), ("Peter", "M", ("Pete",)), ("Paul", "M", ()), ("Mark", "M", ()),
    ("George", "M", ()), ("Oliver", "M", ("Ollie",)), ("Lukas", "M", ()), ("Pierre", "M", ()),
    ("Elizabeth", "F", ("Liz", "Beth", "Lizzie")), ("Katherine", "F", ("Kate", "Kathy")),
    ("Jennifer", "F", ("Jen", "Jenny")), ("Margaret", "F", ("Maggie", "Peggy")),
    ("Patricia", "F", ("Pat", "Trish")),
    ("Susan", "F", ("Sue",)), ("Rebecca", "F", ("Becky",)), ("Jessica", "F", ("Jess",)), ("Mary", "F", ()),
    ("Sarah", "F", ()), ("Laura", "F", ()), ("Emma", "F", ()), ("Anna", "F", ()), ("Sophie", "F", ()),
    ("Claire", "F", ()), ("Hannah", "F", ()),
)

WESTERN_LAST: Final[tuple[str, ...]] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor", "Anderson",
    "Thomas", "Moore", "Martin", "Jackson", "White", "Harris", "Clark", "Lewis", "Walker", "Hall", "Young",
    "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill", "Campbell", "O'Brien", "McDonald",
    "Müller", "Schmidt", "Dubois", "Rossi", "García", "Jensen", "Novak", "Fischer",
)

#: Common Western names that several different people share (hard negatives).
COMMON_WESTERN_NAMES: Final[tuple[tuple[str, str, str], ...]] = (
    ("John", "Smith", "M"), ("Michael", "Brown", "M"), ("David", "Miller", "M"), ("Mary", "Johnson", "F"),
    ("Robert", "Miller", "M"), ("Sarah", "Williams", "F"),
)

# --------------------------------------------------------------------------------------------------------
# Places
# --------------------------------------------------------------------------------------------------------

#: (province or "" for municipalities, city, city pinyin, landline area code, local digits, weight, districts)
CN_CITIES: Final[tuple[tuple[str, str, str, str, int, float, tuple[str, ...]], ...]] = (
    ("山东省", "聊城市", "Liaocheng", "0635", 7, 30.0,
     ("东昌府区", "茌平区", "临清市", "阳谷县", "莘县", "冠县", "东阿县", "高唐县")),
    ("", "北京市", "Beijing", "010", 8, 10.0, ("朝阳区", "海淀区", "东城区", "西城区", "丰台区", "通州区")),
    ("", "上海市", "Shanghai", "021", 8, 8.0, ("浦东新区", "徐汇区", "静安区", "长宁区", "闵行区")),
    ("山东省", "济南市", "Jinan", "0531", 8, 8.0, ("历下区", "市中区", "槐荫区", "天桥区", "历城区")),
    ("山东省", "青岛市", "Qingdao", "0532", 8, 6.0, ("市南区", "市北区", "崂山区", "黄岛区", "城阳区")),
    ("广东省", "广州市", "Guangzhou", "020", 8, 5.0, ("天河区", "越秀区", "海珠区", "白云区", "番禺区")),
    ("广东省", "深圳市", "Shenzhen", "0755", 8, 5.0, ("南山区", "福田区", "罗湖区", "宝安区", "龙岗区")),
    ("浙江省", "杭州市", "Hangzhou", "0571", 8, 4.0, ("西湖区", "上城区", "拱墅区", "滨江区", "余杭区")),
    ("江苏省", "南京市", "Nanjing", "025", 8, 4.0, ("玄武区", "秦淮区", "鼓楼区", "建邺区", "江宁区")),
    ("四川省", "成都市", "Chengdu", "028", 8, 3.0, ("锦江区", "青羊区", "武侯区", "成华区", "金牛区")),
    ("湖北省", "武汉市", "Wuhan", "027", 8, 3.0, ("江汉区", "武昌区", "洪山区", "江岸区")),
    ("", "天津市", "Tianjin", "022", 8, 3.0, ("和平区", "河西区", "南开区", "滨海新区")),
    ("河南省", "郑州市", "Zhengzhou", "0371", 8, 3.0, ("金水区", "中原区", "二七区", "管城回族区")),
    ("河北省", "石家庄市", "Shijiazhuang", "0311", 8, 2.0, ("长安区", "桥西区", "新华区", "裕华区")),
)

CN_STREETS: Final[tuple[str, ...]] = (
    "柳园路", "东昌路", "花园路", "兴华路", "建设路", "光岳路", "湖南路", "振兴路", "人民路", "解放路",
    "中山路", "和平路", "新华路", "长江路", "黄河路", "文化路", "健康路", "幸福路", "朝阳路", "工业路",
    "北京路", "南京路", "东风路", "红旗路", "育新街", "古楼街", "站前街", "滨河大道", "开发区大道",
)
CN_BUILDINGS: Final[tuple[str, ...]] = (
    "华兴大厦", "金融中心", "国际广场", "阳光花园", "东方小区", "世纪城", "锦绣家园",
)

#: (street names, city, region, postcode pattern, country, phone country code)
WESTERN_CITIES: Final[tuple[tuple[tuple[str, ...], str, str, str, str, str], ...]] = (
    (("Fifth Avenue", "Broadway", "Park Ave", "W 57th St"), "New York", "NY", "100##", "USA", "1"),
    (("Market St", "Mission St", "Valencia St", "Geary Blvd"), "San Francisco", "CA", "941##", "USA", "1"),
    (("Michigan Ave", "State St", "Clark St"), "Chicago", "IL", "606##", "USA", "1"),
    (("Baker Street", "Oxford Street", "King's Road", "High Street"), "London", "", "SW1A #AA", "UK", "44"),
    (("George Street", "Princes Street"), "Edinburgh", "", "EH2 #DD", "UK", "44"),
    (("Hauptstraße", "Bahnhofstraße", "Goethestraße"), "Berlin", "", "10###", "Germany", "49"),
)
US_AREA_CODES: Final[dict[str, tuple[str, ...]]] = {
    "New York": ("212", "646", "917"), "San Francisco": ("415", "628"), "Chicago": ("312", "773"),
}

# --------------------------------------------------------------------------------------------------------
# Companies
# --------------------------------------------------------------------------------------------------------

#: (brand, pinyin) with unambiguous readings.
CN_BRANDS: Final[tuple[tuple[str, str], ...]] = (
    ("华兴", "Huaxing"), ("鲁信", "Luxin"), ("金泰", "Jintai"), ("宏达", "Hongda"), ("恒信", "Hengxin"),
    ("新华", "Xinhua"), ("东方", "Dongfang"), ("鑫源", "Xinyuan"), ("瑞丰", "Ruifeng"), ("德润", "Derun"),
    ("泰山", "Taishan"), ("盛世", "Shengshi"), ("天宇", "Tianyu"), ("永安", "Yong'an"), ("富源", "Fuyuan"),
    ("嘉禾", "Jiahe"), ("博远", "Boyuan"), ("中鲁", "Zhonglu"), ("凤凰", "Fenghuang"), ("海诺", "Hainuo"),
    ("润华", "Runhua"), ("明德", "Mingde"), ("光明", "Guangming"), ("金龙", "Jinlong"), ("信达", "Xinda"),
)
#: (industry, English)
CN_INDUSTRIES: Final[tuple[tuple[str, str], ...]] = (
    ("机械", "Machinery"), ("纺织", "Textile"), ("食品", "Food"), ("建材", "Building Materials"),
    ("电子", "Electronics"), ("物流", "Logistics"), ("化工", "Chemical"), ("医药", "Pharmaceutical"),
    ("科技", "Technology"), ("贸易", "Trading"), ("钢管", "Steel Pipe"), ("轴承", "Bearing"),
    ("农业", "Agriculture"), ("印刷", "Printing"), ("汽车配件", "Auto Parts"),
    ("环保设备", "Environmental Equipment"),
)
#: Canonical suffixes (Chinese, English).
CN_SUFFIXES: Final[tuple[tuple[str, str], ...]] = (
    ("有限公司", "Co., Ltd."), ("有限公司", "Co., Ltd."), ("有限公司", "Co., Ltd."),
    ("股份有限公司", "Co., Ltd."), ("集团有限公司", "Group Co., Ltd."), ("有限责任公司", "Co., Ltd."),
)
#: Western company names are built from a stem, an industry and a legal suffix.
WESTERN_COMPANY_STEMS: Final[tuple[str, ...]] = (
    "Acme", "Northwind", "Contoso", "Globex", "Initech", "Blue River", "Pacific Rim", "Summit", "Evergreen",
    "Silverline", "Redwood", "Harbor", "Atlas", "Pioneer", "Crescent", "Keystone", "Brightwater", "Oakridge",
)
WESTERN_COMPANY_INDUSTRIES: Final[tuple[str, ...]] = (
    "Trading", "Imports", "Consulting", "Foods", "Logistics", "Machinery", "Textiles", "Electronics",
    "Partners",
)
#: (suffix, long form)
WESTERN_COMPANY_SUFFIXES: Final[tuple[tuple[str, str], ...]] = (
    ("Ltd", "Limited"), ("Inc.", "Incorporated"), ("LLC", "L.L.C."), ("GmbH", "GmbH"),
    ("Corp.", "Corporation"),
)
#: Extra characters for generated company brands (all with a single common reading).
BRAND_CHARS: Final[str] = (
    "华兴鲁信金泰宏达恒新东方鑫源瑞丰德润盛世天宇永安富嘉禾博远"
    "中凤凰海诺明光龙聚力通利万佳航腾康顺昌隆鸿祥益晟"
)

JOB_TITLES_CN: Final[tuple[str, ...]] = (
    "总经理", "经理", "采购经理", "销售总监", "财务", "老板", "技术员", "主任", "厂长", "采购", "副总",
    "办公室主任",
)
JOB_TITLES_EN: Final[tuple[str, ...]] = (
    "Manager", "Purchasing Manager", "CEO", "Director", "Sales Director", "Buyer", "Engineer", "Owner",
)

# --------------------------------------------------------------------------------------------------------
# Contacts
# --------------------------------------------------------------------------------------------------------

CN_MOBILE_PREFIXES: Final[tuple[str, ...]] = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151", "152", "153", "155",
    "156", "157", "158", "159", "166", "176", "177", "178", "180", "181", "182", "183", "185", "186", "187",
    "188", "189", "198", "199",
)
CN_EMAIL_DOMAINS: Final[tuple[tuple[str, float], ...]] = (
    ("qq.com", 40.0), ("163.com", 20.0), ("126.com", 8.0), ("sina.com", 5.0), ("gmail.com", 5.0),
    ("hotmail.com", 3.0), ("foxmail.com", 4.0), ("139.com", 3.0), ("sohu.com", 2.0), ("yeah.net", 1.0),
)
WESTERN_EMAIL_DOMAINS: Final[tuple[tuple[str, float], ...]] = (
    ("gmail.com", 40.0), ("outlook.com", 15.0), ("yahoo.com", 12.0), ("hotmail.com", 10.0),
    ("icloud.com", 8.0),
)
#: Domain typos seen in real forms.
EMAIL_DOMAIN_TYPOS: Final[dict[str, tuple[str, ...]]] = {
    "qq.com": ("qq.con", "qq.cm", "qq.com.cn", "qq。com"),
    "163.com": ("163.con", "163.cm", "136.com"),
    "126.com": ("126.con",),
    "gmail.com": ("gmial.com", "gmail.con", "gamil.com"),
    "hotmail.com": ("hotmial.com", "hotmail.co"),
    "outlook.com": ("outlok.com",),
    "yahoo.com": ("yaho.com", "yahoo.con"),
    "sina.com": ("sina.cn", "sian.com"),
}

# --------------------------------------------------------------------------------------------------------
# Free text
# --------------------------------------------------------------------------------------------------------

NOTES_CN: Final[tuple[str, ...]] = (
    "老客户", "意向强", "已报价", "下周回访", "介绍人：王总", "VIP", "需要发票", "对价格敏感", "展会认识",
    "电话没人接", "已发样品", "月底付款", "只要现货", "重点跟进", "竞品在用", "春节后联系", "老板的朋友",
)
#: Notes with commas, quotes or line breaks (the CSV writer must quote them).
NOTES_TRICKY: Final[tuple[str, ...]] = (
    '客户说"价格太高"，再等等', "已报价,等回复", "第一次拜访：见了采购\n第二次拜访：签约", 'VIP, "重点"客户',
    "地址变了,新地址见备注\n旧地址作废", "要求:1,2,3号货先发",
)
NOTES_EN: Final[tuple[str, ...]] = (
    "met at Canton Fair", "prefers email", "follow up next week", "sent quote", "VIP", "price sensitive",
    'said "call me in Q4"', "referred by Tom",
)
SEGMENTS: Final[tuple[str, ...]] = ("A", "B", "C", "VIP", "重点客户", "一般客户")
UTM_SOURCES: Final[tuple[str, ...]] = (
    "baidu", "wechat", "weibo", "douyin", "xiaohongshu", "google", "linkedin", "newsletter", "direct",
)

# --------------------------------------------------------------------------------------------------------
# Spam
# --------------------------------------------------------------------------------------------------------

SPAM_NAMES: Final[tuple[str, ...]] = (
    "asdf", "test", "测试", "qwerty", "aaa", "1111", "xxx",
    '<a href="http://cheap-pills.example/buy">click here</a>', "<script>alert(1)</script>", "Test User",
)
SPAM_EMAILS: Final[tuple[str, ...]] = (
    "test@test.com", "a@b.c", "asdf@asdf.com", "test@qq.com", "123@123.com",
)
SPAM_PHONES: Final[tuple[str, ...]] = ("11111111111", "12345678901", "13800000000", "00000000000", "123456")

# --------------------------------------------------------------------------------------------------------
# Sales workbook headers
# --------------------------------------------------------------------------------------------------------

SALESPEOPLE: Final[tuple[str, ...]] = ("张磊", "李娜", "王强", "刘洋", "陈静")
WESTERN_SALESPERSON: Final[str] = "Tom"

#: Workbook column -> Chinese header variants (each sheet picks one).
SHEET_HEADERS_CN: Final[dict[str, tuple[str, ...]]] = {
    "seq": ("序号", "编号"),
    "name": ("客户姓名", "姓名", "联系人", "客户"),
    "phone": ("手机", "手机号", "联系电话", "手机号码"),
    "landline": ("座机", "固定电话", "办公电话"),
    "email": ("邮箱", "电子邮件", "E-mail", "Email"),
    "company": ("公司", "公司名称", "单位", "工作单位"),
    "job_title": ("职务", "职位"),
    "address": ("地址", "联系地址", "通讯地址"),
    "birth_date": ("生日", "出生日期"),
    "gender": ("性别",),
    "segment": ("客户等级", "级别"),
    "wechat": ("微信", "微信号"),
    "notes": ("备注", "说明"),
    "updated_at": ("最后联系", "更新时间", "最近跟进"),
}
SHEET_HEADERS_EN: Final[dict[str, str]] = {
    "name": "Name", "phone": "Mobile", "landline": "Office Phone", "email": "Email", "company": "Company",
    "job_title": "Title", "address": "Address", "birth_date": "Birthday", "gender": "Gender",
    "notes": "Notes", "updated_at": "Last Contact",
}
#: Workbook column -> canonical field (``None``: unmapped, lands in ``attributes``).
SHEET_FIELDS: Final[dict[str, str | None]] = {
    "seq": None, "name": "full_name", "phone": "phone", "landline": "landline", "email": "email",
    "company": "company", "job_title": "job_title", "address": "address", "birth_date": "birth_date",
    "gender": "gender", "segment": "segment", "wechat": "wechat", "notes": "notes",
    "updated_at": "updated_at",
}

#: Legacy CRM columns: (column, meaning, canonical field or None).
LEGACY_COLUMNS: Final[tuple[tuple[str, str, str | None], ...]] = (
    ("KHBH", "客户编号 customer number", None),
    ("KHMC", "客户名称 customer (company) name", "company"),
    ("LXR", "联系人 contact person", "full_name"),
    ("SJHM", "手机号码 mobile", "phone"),
    ("GDDH", "固定电话 landline", "landline"),
    ("DZYX", "电子邮箱 e-mail", "email"),
    ("DZ", "地址 address", "address"),
    ("SR", "生日 birthday, yyyymmdd", "birth_date"),
    ("XB", "性别 gender, 1 male / 2 female", "gender"),
    ("ZT", "状态 status, 1 active / 2 dormant / 9 deleted", "status"),
    ("GXSJ", "更新时间 last update", "updated_at"),
    ("BZ", "备注 notes", "notes"),
)

#: Web sign-up keys: (key, canonical field or None).
SIGNUP_KEYS: Final[tuple[tuple[str, str | None], ...]] = (
    ("name", "full_name"), ("mobile", "phone"), ("email", "email"), ("company", "company"), ("city", "city"),
    ("signup_at", "updated_at"), ("utm_source", None), ("consent", None),
)
# fmt: on
