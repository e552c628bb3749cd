"""Vocabulary of the hand-over world: names, places, companies, contact habits and the sources' headers.

Plain tuples and dicts only (no sets: iteration order must not depend on the hash seed). Readings and
traditional forms are written out here rather than computed, so the generator does not share a romanisation
or conversion library with the code it is meant to test.
"""

from __future__ import annotations

from typing import Final, NamedTuple

# fmt: off


class CityInfo(NamedTuple):
    """A prefecture-level city (or municipality) with its dialling and postal facts."""

    province: str            # "" for the four municipalities
    name: str                # with 市
    pinyin: str
    area: str                # trunk prefix + area code, e.g. "0635"
    local_len: int           # digits of a local landline number (7 or 8)
    postcode: str
    weight: float            # share of the company's customers (the seller sits in 聊城)
    districts: tuple[str, ...]
    streets: tuple[str, ...]


# --------------------------------------------------------------------------------------------------------
# Places: the seller is an SME in 聊城 (Shandong); most customers are in Shandong, the rest across China.
# Local number lengths follow the national numbering plan (7 digits in most Shandong prefectures, 8 in the
# provincial capitals and the big coastal cities).
# --------------------------------------------------------------------------------------------------------
CITIES: Final[tuple[CityInfo, ...]] = (
    CityInfo("山东省", "聊城市", "Liaocheng", "0635", 7, "252000", 20.0,
             ("东昌府区", "茌平区", "临清市", "阳谷县", "莘县", "冠县", "东阿县", "高唐县"),
             ("东昌路", "柳园路", "花园路", "振兴路", "光岳路", "兴华路", "建设路", "湖南路", "卫育路", "昌润路",
              "龙山路", "鲁化路", "向阳路", "利民路", "嫩江路", "松花江路", "站前街", "古楼街")),
    CityInfo("山东省", "泰安市", "Tai'an", "0538", 7, "271000", 5.0,
             ("泰山区", "岱岳区", "新泰市", "肥城市", "宁阳县", "东平县"),
             ("东岳大街", "泰山大街", "岱宗大街", "灵山大街", "龙潭路", "温泉路", "擂鼓石大街", "迎胜路", "青年路",
              "财源大街", "望岳路")),
    CityInfo("山东省", "济南市", "Jinan", "0531", 8, "250000", 7.0,
             ("历下区", "市中区", "槐荫区", "天桥区", "历城区", "长清区", "章丘区", "济阳区"),
             ("经十路", "泉城路", "解放路", "历山路", "工业南路", "舜华路", "二环东路", "经四路", "山大路", "英雄山路",
              "北园大街")),
    CityInfo("山东省", "青岛市", "Qingdao", "0532", 8, "266000", 5.0,
             ("市南区", "市北区", "李沧区", "崂山区", "黄岛区", "城阳区", "即墨区", "胶州市"),
             ("香港中路", "东海西路", "延安三路", "辽阳西路", "山东路", "长江中路", "重庆南路", "黑龙江路", "株洲路")),
    CityInfo("山东省", "潍坊市", "Weifang", "0536", 7, "261000", 3.0,
             ("奎文区", "潍城区", "坊子区", "寒亭区", "寿光市", "诸城市", "青州市"),
             ("胜利东街", "东风东街", "北海路", "新华路", "健康街", "福寿街", "玉清街")),
    CityInfo("山东省", "临沂市", "Linyi", "0539", 7, "276000", 3.0,
             ("兰山区", "罗庄区", "河东区", "沂南县", "郯城县"),
             ("沂蒙路", "通达路", "解放路", "金雀山路", "北京路", "成都路")),
    CityInfo("山东省", "淄博市", "Zibo", "0533", 7, "255000", 3.0,
             ("张店区", "淄川区", "博山区", "临淄区", "周村区"),
             ("柳泉路", "人民西路", "共青团路", "华光路", "金晶大道")),
    CityInfo("山东省", "德州市", "Dezhou", "0534", 7, "253000", 3.0,
             ("德城区", "陵城区", "禹城市", "乐陵市", "齐河县"),
             ("东方红路", "湖滨大道", "三八路", "新湖大街", "天衢路")),
    CityInfo("山东省", "济宁市", "Jining", "0537", 7, "272000", 2.5,
             ("任城区", "兖州区", "曲阜市", "邹城市", "梁山县"),
             ("太白湖路", "共青团路", "洸河路", "红星路", "建设路")),
    CityInfo("山东省", "菏泽市", "Heze", "0530", 7, "274000", 2.0,
             ("牡丹区", "定陶区", "曹县", "郓城县"),
             ("中华路", "人民路", "长江路", "和平路", "牡丹路")),
    CityInfo("山东省", "烟台市", "Yantai", "0535", 7, "264000", 2.0,
             ("芝罘区", "莱山区", "福山区", "牟平区", "龙口市"),
             ("南大街", "北马路", "迎春大街", "港城大街", "长江路")),
    CityInfo("", "北京市", "Beijing", "010", 8, "100000", 4.0,
             ("朝阳区", "海淀区", "东城区", "西城区", "丰台区", "大兴区", "通州区", "顺义区"),
             ("建国路", "朝阳北路", "中关村大街", "学院路", "西四环北路", "丰台南路", "望京街", "科创十三街")),
    CityInfo("", "上海市", "Shanghai", "021", 8, "200000", 4.0,
             ("浦东新区", "闵行区", "徐汇区", "静安区", "嘉定区", "松江区", "宝山区", "普陀区"),
             ("张江路", "龙东大道", "虹梅路", "漕宝路", "南京西路", "曹安公路", "沪太路", "金沙江路")),
    CityInfo("", "天津市", "Tianjin", "022", 8, "300000", 3.0,
             ("和平区", "河西区", "南开区", "滨海新区", "西青区", "北辰区"),
             ("南京路", "卫津路", "黄河道", "友谊路", "红旗路")),
    CityInfo("", "重庆市", "Chongqing", "023", 8, "400000", 1.5,
             ("渝中区", "江北区", "渝北区", "九龙坡区", "南岸区", "沙坪坝区"),
             ("民族路", "建新北路", "金开大道", "南坪正街", "杨家坪正街")),
    CityInfo("广东省", "广州市", "Guangzhou", "020", 8, "510000", 2.0,
             ("天河区", "越秀区", "海珠区", "白云区", "番禺区", "黄埔区"),
             ("天河路", "中山大道", "环市东路", "广州大道南", "黄埔大道", "机场路")),
    CityInfo("广东省", "深圳市", "Shenzhen", "0755", 8, "518000", 2.5,
             ("南山区", "福田区", "罗湖区", "宝安区", "龙岗区", "龙华区"),
             ("深南大道", "科技园南路", "宝安大道", "龙岗大道", "华强北路", "民治大道")),
    CityInfo("广东省", "东莞市", "Dongguan", "0769", 8, "523000", 1.5,
             ("长安镇", "虎门镇", "厚街镇", "南城街道", "东城街道"),
             ("东莞大道", "鸿福路", "莞太路", "厚街大道")),
    CityInfo("广东省", "佛山市", "Foshan", "0757", 8, "528000", 1.0,
             ("禅城区", "南海区", "顺德区", "三水区"),
             ("季华路", "佛山大道", "桂澜路", "南海大道", "容桂大道")),
    CityInfo("浙江省", "杭州市", "Hangzhou", "0571", 8, "310000", 2.0,
             ("西湖区", "上城区", "拱墅区", "滨江区", "余杭区", "萧山区"),
             ("文三路", "天目山路", "江南大道", "莫干山路", "文一西路", "金城路")),
    CityInfo("浙江省", "宁波市", "Ningbo", "0574", 8, "315000", 1.5,
             ("海曙区", "江北区", "鄞州区", "北仑区", "慈溪市", "余姚市"),
             ("中山东路", "天童南路", "宁穿路", "新晖路")),
    CityInfo("浙江省", "温州市", "Wenzhou", "0577", 8, "325000", 1.0,
             ("鹿城区", "龙湾区", "瓯海区", "乐清市", "瑞安市"),
             ("车站大道", "人民东路", "温州大道", "学院中路")),
    CityInfo("浙江省", "金华市", "Jinhua", "0579", 8, "321000", 1.0,
             ("婺城区", "金东区", "义乌市", "永康市", "东阳市"),
             ("八一北街", "宾虹路", "稠州北路", "工人西路")),
    CityInfo("江苏省", "苏州市", "Suzhou", "0512", 8, "215000", 2.0,
             ("姑苏区", "工业园区", "吴中区", "相城区", "昆山市", "常熟市", "张家港市"),
             ("星湖街", "干将路", "人民路", "金鸡湖大道", "东环路", "长江路")),
    CityInfo("江苏省", "南京市", "Nanjing", "025", 8, "210000", 1.5,
             ("玄武区", "秦淮区", "鼓楼区", "建邺区", "江宁区", "浦口区"),
             ("中山路", "汉中路", "江东中路", "双龙大道", "龙蟠路")),
    CityInfo("江苏省", "无锡市", "Wuxi", "0510", 8, "214000", 1.5,
             ("梁溪区", "滨湖区", "新吴区", "锡山区", "江阴市", "宜兴市"),
             ("中山路", "太湖大道", "长江路", "人民路", "梁溪路")),
    CityInfo("江苏省", "常州市", "Changzhou", "0519", 8, "213000", 1.0,
             ("天宁区", "钟楼区", "新北区", "武进区"),
             ("延陵西路", "通江中路", "晋陵路", "武进大道")),
    CityInfo("河北省", "石家庄市", "Shijiazhuang", "0311", 8, "050000", 2.0,
             ("长安区", "桥西区", "新华区", "裕华区", "藁城区"),
             ("中山路", "裕华路", "建设南大街", "槐安路", "和平路")),
    CityInfo("河北省", "邯郸市", "Handan", "0310", 7, "056000", 1.5,
             ("丛台区", "邯山区", "复兴区", "永年区"),
             ("人民路", "中华大街", "陵西大街", "联纺路")),
    CityInfo("河北省", "保定市", "Baoding", "0312", 7, "071000", 1.0,
             ("竞秀区", "莲池区", "满城区", "高碑店市"),
             ("朝阳大街", "东风路", "七一路", "裕华路")),
    CityInfo("河北省", "沧州市", "Cangzhou", "0317", 7, "061000", 1.5,
             ("运河区", "新华区", "泊头市", "任丘市", "黄骅市", "盐山县"),
             ("解放路", "永济路", "浮阳大道", "北京路")),
    CityInfo("河北省", "廊坊市", "Langfang", "0316", 7, "065000", 1.0,
             ("广阳区", "安次区", "三河市", "霸州市", "固安县"),
             ("新华路", "和平路", "银河北路", "爱民道")),
    CityInfo("河南省", "郑州市", "Zhengzhou", "0371", 8, "450000", 2.0,
             ("金水区", "中原区", "二七区", "管城回族区", "惠济区"),
             ("花园路", "金水路", "中原路", "农业路", "商都路", "大学路")),
    CityInfo("河南省", "洛阳市", "Luoyang", "0379", 8, "471000", 1.0,
             ("西工区", "洛龙区", "涧西区", "老城区"),
             ("中州路", "开元大道", "九都路", "长安路")),
    CityInfo("湖北省", "武汉市", "Wuhan", "027", 8, "430000", 1.5,
             ("江汉区", "武昌区", "洪山区", "江岸区", "汉阳区", "东西湖区"),
             ("解放大道", "中南路", "珞喻路", "建设大道", "汉阳大道", "光谷大道")),
    CityInfo("四川省", "成都市", "Chengdu", "028", 8, "610000", 1.5,
             ("锦江区", "青羊区", "武侯区", "成华区", "金牛区"),
             ("人民南路", "天府大道", "蜀都大道", "一环路", "武侯祠大街", "府青路")),
    CityInfo("湖南省", "长沙市", "Changsha", "0731", 8, "410000", 1.0,
             ("芙蓉区", "天心区", "岳麓区", "开福区", "雨花区"),
             ("五一大道", "韶山路", "芙蓉路", "麓山南路", "劳动路")),
    CityInfo("安徽省", "合肥市", "Hefei", "0551", 8, "230000", 1.0,
             ("蜀山区", "包河区", "庐阳区", "瑶海区"),
             ("长江西路", "黄山路", "马鞍山路", "徽州大道", "望江路")),
    CityInfo("福建省", "福州市", "Fuzhou", "0591", 8, "350000", 0.7,
             ("鼓楼区", "台江区", "仓山区", "晋安区"),
             ("五四路", "工业路", "六一路", "福飞路")),
    CityInfo("福建省", "厦门市", "Xiamen", "0592", 7, "361000", 0.7,
             ("思明区", "湖里区", "集美区", "海沧区"),
             ("湖滨南路", "嘉禾路", "厦禾路", "仙岳路")),
    CityInfo("福建省", "泉州市", "Quanzhou", "0595", 8, "362000", 0.7,
             ("丰泽区", "鲤城区", "晋江市", "石狮市", "南安市"),
             ("泉秀路", "刺桐路", "田安路", "世纪大道")),
    CityInfo("辽宁省", "沈阳市", "Shenyang", "024", 8, "110000", 1.0,
             ("和平区", "沈河区", "铁西区", "皇姑区", "浑南区"),
             ("青年大街", "北京街", "兴华街", "黄河南大街", "中山路")),
    CityInfo("辽宁省", "大连市", "Dalian", "0411", 8, "116000", 1.0,
             ("中山区", "西岗区", "沙河口区", "甘井子区", "金州区"),
             ("人民路", "中山路", "黄河路", "五四路", "西安路")),
    CityInfo("陕西省", "西安市", "Xi'an", "029", 8, "710000", 1.0,
             ("雁塔区", "碑林区", "新城区", "未央区", "莲湖区"),
             ("长安路", "科技路", "高新路", "未央路", "东大街")),
    CityInfo("黑龙江省", "哈尔滨市", "Harbin", "0451", 8, "150000", 0.7,
             ("南岗区", "道里区", "香坊区", "道外区"),
             ("中山路", "红旗大街", "中央大街", "学府路")),
    CityInfo("江西省", "南昌市", "Nanchang", "0791", 8, "330000", 0.6,
             ("东湖区", "西湖区", "青山湖区", "红谷滩区"),
             ("八一大道", "阳明路", "北京西路", "红谷中大道")),
    CityInfo("山西省", "太原市", "Taiyuan", "0351", 7, "030000", 1.0,
             ("小店区", "迎泽区", "杏花岭区", "万柏林区"),
             ("迎泽大街", "府西街", "并州路", "长风街")),
    CityInfo("广西壮族自治区", "南宁市", "Nanning", "0771", 7, "530000", 0.5,
             ("青秀区", "兴宁区", "西乡塘区", "江南区"),
             ("民族大道", "朝阳路", "友爱路", "星光大道")),
    CityInfo("云南省", "昆明市", "Kunming", "0871", 8, "650000", 0.5,
             ("五华区", "盘龙区", "官渡区", "西山区"),
             ("北京路", "人民中路", "东风东路", "滇池路")),
)

#: Cities foreigners and Chinese with an English name mostly work in (trade hubs).
INTERNATIONAL_CITIES: Final[tuple[str, ...]] = (
    "上海市", "北京市", "深圳市", "广州市", "苏州市", "青岛市", "宁波市", "杭州市", "天津市", "厦门市",
)

#: Residential compounds (小区) and old work-unit housing, for home addresses.
COMPOUNDS: Final[tuple[str, ...]] = (
    "阳光花园", "锦绣华庭", "金色家园", "幸福里", "东方名苑", "凤凰城", "水岸豪庭", "御景湾", "翰林苑", "书香门第",
    "和谐家园", "康居小区", "润园", "龙湖花园", "碧桂园", "万科城", "恒大名都", "金域蓝湾", "世纪花园", "建设小区",
    "教师新村", "铁路宿舍", "纺织厂宿舍", "粮食局家属院", "鲁西花园", "东关社区", "新城花苑", "百合苑", "盛世华府",
    "滨河小区",
)
#: Industrial areas a factory's address names.
PARKS: Final[tuple[str, ...]] = (
    "经济开发区", "高新技术产业开发区", "工业园", "化工产业园", "物流园", "科技园", "装备制造产业园", "民营工业园",
)

# --------------------------------------------------------------------------------------------------------
# Chinese names
# --------------------------------------------------------------------------------------------------------

#: (surname, pinyin, share in per cent), close to the 2020 census ranking; compound surnames at the end.
SURNAMES: Final[tuple[tuple[str, str, float], ...]] = (
    ("王", "wang", 7.12), ("李", "li", 7.00), ("张", "zhang", 6.63), ("刘", "liu", 5.35), ("陈", "chen", 4.61),
    ("杨", "yang", 3.11), ("黄", "huang", 2.23), ("赵", "zhao", 2.13), ("吴", "wu", 2.04), ("周", "zhou", 1.92),
    ("徐", "xu", 1.54), ("孙", "sun", 1.51), ("马", "ma", 1.35), ("朱", "zhu", 1.29), ("胡", "hu", 1.24),
    ("郭", "guo", 1.17), ("何", "he", 1.11), ("林", "lin", 1.03), ("高", "gao", 1.02), ("罗", "luo", 0.98),
    ("郑", "zheng", 0.84), ("梁", "liang", 0.81), ("谢", "xie", 0.70), ("宋", "song", 0.66), ("唐", "tang", 0.64),
    ("许", "xu", 0.62), ("韩", "han", 0.59), ("冯", "feng", 0.58), ("邓", "deng", 0.56), ("曹", "cao", 0.55),
    ("彭", "peng", 0.54), ("曾", "zeng", 0.53), ("肖", "xiao", 0.51), ("田", "tian", 0.50), ("董", "dong", 0.49),
    ("潘", "pan", 0.46), ("袁", "yuan", 0.45), ("蔡", "cai", 0.43), ("蒋", "jiang", 0.43), ("余", "yu", 0.42),
    ("于", "yu", 0.41), ("杜", "du", 0.40), ("叶", "ye", 0.39), ("程", "cheng", 0.38), ("魏", "wei", 0.37),
    ("苏", "su", 0.36), ("吕", "lv", 0.35), ("丁", "ding", 0.35), ("任", "ren", 0.34), ("卢", "lu", 0.33),
    ("姚", "yao", 0.32), ("沈", "shen", 0.32), ("钟", "zhong", 0.31), ("姜", "jiang", 0.31), ("崔", "cui", 0.30),
    ("谭", "tan", 0.29), ("陆", "lu", 0.29), ("范", "fan", 0.28), ("汪", "wang", 0.28), ("廖", "liao", 0.27),
    ("石", "shi", 0.27), ("金", "jin", 0.26), ("韦", "wei", 0.25), ("贾", "jia", 0.25), ("夏", "xia", 0.24),
    ("付", "fu", 0.24), ("方", "fang", 0.24), ("邹", "zou", 0.22), ("熊", "xiong", 0.22), ("白", "bai", 0.21),
    ("孟", "meng", 0.21), ("秦", "qin", 0.20), ("邱", "qiu", 0.20), ("侯", "hou", 0.20), ("江", "jiang", 0.20),
    ("尹", "yin", 0.19), ("薛", "xue", 0.19), ("闫", "yan", 0.18), ("段", "duan", 0.18), ("雷", "lei", 0.17),
    ("龙", "long", 0.16), ("黎", "li", 0.16), ("史", "shi", 0.16), ("陶", "tao", 0.15), ("贺", "he", 0.15),
    ("毛", "mao", 0.15), ("郝", "hao", 0.15), ("顾", "gu", 0.14), ("龚", "gong", 0.14), ("邵", "shao", 0.14),
    ("万", "wan", 0.14), ("覃", "qin", 0.13), ("武", "wu", 0.13), ("钱", "qian", 0.13), ("戴", "dai", 0.13),
    ("严", "yan", 0.13), ("莫", "mo", 0.12), ("孔", "kong", 0.12), ("向", "xiang", 0.12), ("常", "chang", 0.12),
    ("汤", "tang", 0.11), ("康", "kang", 0.11), ("易", "yi", 0.11), ("乔", "qiao", 0.10), ("赖", "lai", 0.10),
    ("文", "wen", 0.10), ("施", "shi", 0.09), ("洪", "hong", 0.09), ("牛", "niu", 0.09), ("齐", "qi", 0.08),
    ("聂", "nie", 0.07), ("庞", "pang", 0.06), ("葛", "ge", 0.06), ("宁", "ning", 0.06), ("单", "shan", 0.05),
    ("解", "xie", 0.03), ("仇", "qiu", 0.02), ("查", "zha", 0.02), ("区", "ou", 0.01),
    ("欧阳", "ouyang", 0.05), ("司马", "sima", 0.012), ("上官", "shangguan", 0.01), ("诸葛", "zhuge", 0.01),
    ("皇甫", "huangfu", 0.006), ("东方", "dongfang", 0.005), ("慕容", "murong", 0.003), ("夏侯", "xiahou", 0.003),
    ("令狐", "linghu", 0.003), ("尉迟", "yuchi", 0.002), ("公孙", "gongsun", 0.002), ("端木", "duanmu", 0.002),
)

#: One-character given names with weights: (hanzi, pinyin, weight). Very skewed, as in the census.
SINGLE_GIVEN_M: Final[tuple[tuple[str, str, float], ...]] = (
    ("伟", "wei", 10), ("强", "qiang", 6), ("磊", "lei", 6), ("军", "jun", 6), ("勇", "yong", 5), ("杰", "jie", 5),
    ("涛", "tao", 5), ("斌", "bin", 4), ("超", "chao", 4), ("明", "ming", 4), ("刚", "gang", 4), ("平", "ping", 3),
    ("辉", "hui", 3), ("鹏", "peng", 3), ("华", "hua", 3), ("飞", "fei", 3), ("鑫", "xin", 3), ("波", "bo", 3),
    ("洋", "yang", 3), ("凯", "kai", 2), ("健", "jian", 2), ("浩", "hao", 2), ("亮", "liang", 2), ("峰", "feng", 2),
    ("林", "lin", 2), ("东", "dong", 2), ("龙", "long", 2), ("阳", "yang", 2), ("帅", "shuai", 2), ("俊", "jun", 2),
    ("宇", "yu", 2), ("毅", "yi", 1), ("彬", "bin", 1), ("晨", "chen", 1), ("坤", "kun", 1), ("猛", "meng", 1),
)
SINGLE_GIVEN_F: Final[tuple[tuple[str, str, float], ...]] = (
    ("芳", "fang", 9), ("静", "jing", 8), ("娜", "na", 8), ("敏", "min", 7), ("丽", "li", 7), ("艳", "yan", 6),
    ("娟", "juan", 5), ("霞", "xia", 4), ("燕", "yan", 4), ("玲", "ling", 4), ("婷", "ting", 4), ("红", "hong", 3),
    ("梅", "mei", 3), ("萍", "ping", 3), ("丹", "dan", 3), ("雪", "xue", 3), ("慧", "hui", 3), ("颖", "ying", 3),
    ("琳", "lin", 3), ("倩", "qian", 3), ("洁", "jie", 3), ("晶", "jing", 2), ("欣", "xin", 2), ("兰", "lan", 2),
    ("莉", "li", 2), ("琴", "qin", 2), ("云", "yun", 2), ("凤", "feng", 2), ("蕾", "lei", 1), ("璐", "lu", 1),
)
#: Two-character given names that are names in their own right, with the birth decades they belong to.
WHOLE_GIVEN: Final[tuple[tuple[str, str, str, str, float], ...]] = (
    # (hanzi, pinyin syllables space-separated, gender, era: old <1970 | mid 1970-89 | young >=1990, weight)
    ("秀英", "xiu ying", "F", "old", 6), ("桂英", "gui ying", "F", "old", 4), ("秀兰", "xiu lan", "F", "old", 3),
    ("玉兰", "yu lan", "F", "old", 3), ("桂兰", "gui lan", "F", "old", 3), ("淑珍", "shu zhen", "F", "old", 2),
    ("凤英", "feng ying", "F", "old", 2), ("秀珍", "xiu zhen", "F", "old", 2), ("建国", "jian guo", "M", "old", 4),
    ("建华", "jian hua", "M", "old", 3), ("建军", "jian jun", "M", "old", 3), ("国强", "guo qiang", "M", "old", 3),
    ("志强", "zhi qiang", "M", "old", 3), ("卫东", "wei dong", "M", "old", 2), ("国庆", "guo qing", "M", "old", 2),
    ("建平", "jian ping", "M", "old", 2), ("海燕", "hai yan", "F", "mid", 3), ("晓燕", "xiao yan", "F", "mid", 3),
    ("丽娟", "li juan", "F", "mid", 2), ("文静", "wen jing", "F", "mid", 2), ("晓东", "xiao dong", "M", "mid", 3),
    ("海涛", "hai tao", "M", "mid", 2), ("春雷", "chun lei", "M", "mid", 2), ("晓明", "xiao ming", "M", "mid", 2),
    ("丹丹", "dan dan", "F", "mid", 2), ("婷婷", "ting ting", "F", "young", 2), ("子涵", "zi han", "F", "young", 3),
    ("欣怡", "xin yi", "F", "young", 3), ("雨涵", "yu han", "F", "young", 2), ("思雨", "si yu", "F", "young", 2),
    ("佳琪", "jia qi", "F", "young", 2), ("浩然", "hao ran", "M", "young", 3), ("梓轩", "zi xuan", "M", "young", 2),
    ("宇航", "yu hang", "M", "young", 2), ("一鸣", "yi ming", "M", "young", 2), ("俊杰", "jun jie", "M", "young", 2),
)
#: Characters that combine into two-character given names: (hanzi, pinyin).
GIVEN_FIRST_M: Final[tuple[tuple[str, str], ...]] = (
    ("志", "zhi"), ("建", "jian"), ("国", "guo"), ("海", "hai"), ("文", "wen"), ("晓", "xiao"), ("永", "yong"),
    ("春", "chun"), ("明", "ming"), ("俊", "jun"), ("子", "zi"), ("宇", "yu"), ("浩", "hao"), ("天", "tian"),
    ("家", "jia"), ("振", "zhen"), ("德", "de"), ("立", "li"), ("新", "xin"), ("金", "jin"), ("成", "cheng"),
    ("嘉", "jia"), ("学", "xue"), ("庆", "qing"), ("光", "guang"), ("云", "yun"), ("继", "ji"), ("向", "xiang"),
)
GIVEN_SECOND_M: Final[tuple[tuple[str, str], ...]] = (
    ("明", "ming"), ("华", "hua"), ("伟", "wei"), ("强", "qiang"), ("军", "jun"), ("平", "ping"), ("东", "dong"),
    ("杰", "jie"), ("峰", "feng"), ("林", "lin"), ("涛", "tao"), ("辉", "hui"), ("龙", "long"), ("刚", "gang"),
    ("勇", "yong"), ("斌", "bin"), ("鹏", "peng"), ("飞", "fei"), ("宇", "yu"), ("航", "hang"), ("轩", "xuan"),
    ("阳", "yang"), ("成", "cheng"), ("波", "bo"), ("亮", "liang"), ("超", "chao"), ("磊", "lei"), ("生", "sheng"),
    ("文", "wen"), ("良", "liang"), ("忠", "zhong"), ("山", "shan"),
)
GIVEN_FIRST_F: Final[tuple[tuple[str, str], ...]] = (
    ("秀", "xiu"), ("玉", "yu"), ("桂", "gui"), ("丽", "li"), ("晓", "xiao"), ("海", "hai"), ("春", "chun"),
    ("红", "hong"), ("美", "mei"), ("雪", "xue"), ("欣", "xin"), ("雨", "yu"), ("思", "si"), ("佳", "jia"),
    ("诗", "shi"), ("梦", "meng"), ("婉", "wan"), ("慧", "hui"), ("淑", "shu"), ("文", "wen"), ("静", "jing"),
    ("金", "jin"), ("月", "yue"), ("凤", "feng"), ("子", "zi"), ("艳", "yan"), ("亚", "ya"), ("冬", "dong"),
)
GIVEN_SECOND_F: Final[tuple[tuple[str, str], ...]] = (
    ("英", "ying"), ("兰", "lan"), ("芳", "fang"), ("华", "hua"), ("霞", "xia"), ("燕", "yan"), ("玲", "ling"),
    ("梅", "mei"), ("娟", "juan"), ("红", "hong"), ("丽", "li"), ("萍", "ping"), ("静", "jing"), ("敏", "min"),
    ("婷", "ting"), ("怡", "yi"), ("琪", "qi"), ("涵", "han"), ("颖", "ying"), ("洁", "jie"), ("琳", "lin"),
    ("雪", "xue"), ("云", "yun"), ("珍", "zhen"), ("凤", "feng"), ("莉", "li"), ("妍", "yan"), ("悦", "yue"),
    ("蓉", "rong"), ("倩", "qian"), ("茹", "ru"), ("薇", "wei"),
)
#: Characters typed by ear: (character, look-alike or same-sounding replacements) for data-entry typos.
SOUND_ALIKES: Final[dict[str, str]] = {
    "伟": "玮炜", "丽": "莉俐", "静": "婧靖", "敏": "民", "杰": "洁", "娜": "纳", "军": "君", "强": "蔷",
    "磊": "蕾", "涛": "韬", "明": "铭鸣", "华": "桦", "飞": "菲", "斌": "彬", "宇": "羽雨", "浩": "皓昊",
    "凯": "楷", "健": "建", "芳": "方", "艳": "燕", "娟": "鹃", "玲": "琳", "婷": "亭", "慧": "惠", "颖": "莹",
    "琳": "林", "晶": "菁", "欣": "馨", "怡": "仪", "琪": "琦", "萍": "苹", "红": "虹", "梅": "玫", "兰": "岚",
    "英": "瑛", "峰": "锋", "东": "冬", "成": "诚", "晨": "辰", "阳": "扬", "鹏": "朋", "鑫": "新", "波": "博",
    "雪": "学", "霞": "侠", "燕": "艳", "丹": "单", "云": "芸", "凤": "风", "洁": "婕", "亮": "靓", "龙": "隆",
    "正": "政", "鸿": "宏", "达": "大", "源": "元", "泰": "太", "祥": "翔", "瑞": "锐", "润": "闰",
}

#: English names Chinese professionals use at work.
ENGLISH_NAMES_M: Final[tuple[str, ...]] = (
    "Kevin", "Jack", "Tony", "Eric", "Jason", "Leo", "Peter", "Frank", "David", "Michael", "Steven", "Allen",
    "Vincent", "Jerry", "Sam", "Terry", "Victor", "Ben", "Andy", "Bruce", "Jimmy", "Alex",
)
ENGLISH_NAMES_F: Final[tuple[str, ...]] = (
    "Lily", "Amy", "Cherry", "Grace", "Linda", "Vivian", "Coco", "Helen", "Emma", "Jenny", "Sunny", "Lucy",
    "Cindy", "Iris", "Annie", "Echo", "Tina", "Wendy", "Nancy", "Sophia", "Joyce", "Yoyo",
)

# --------------------------------------------------------------------------------------------------------
# Western expats
# --------------------------------------------------------------------------------------------------------

#: (first name, gender, short forms)
WESTERN_FIRST: Final[tuple[tuple[str, str, tuple[str, ...]], ...]] = (
    ("James", "M", ("Jim", "Jamie")), ("Robert", "M", ("Bob", "Rob")), ("Michael", "M", ("Mike",)),
    ("David", "M", ("Dave",)), ("William", "M", ("Bill", "Will")), ("Richard", "M", ("Rick",)),
    ("Thomas", "M", ("Tom",)), ("Daniel", "M", ("Dan",)), ("Mark", "M", ()), ("Paul", "M", ()),
    ("Steven", "M", ("Steve",)), ("Andrew", "M", ("Andy",)), ("Brian", "M", ()), ("Jason", "M", ()),
    ("Matthew", "M", ("Matt",)), ("Christopher", "M", ("Chris",)), ("Peter", "M", ("Pete",)), ("Martin", "M", ()),
    ("Stefan", "M", ()), ("Jan", "M", ()), ("Lars", "M", ()), ("Marco", "M", ()), ("Antoine", "M", ()),
    ("Mary", "F", ()), ("Jennifer", "F", ("Jenny", "Jen")), ("Linda", "F", ()), ("Elizabeth", "F", ("Liz", "Beth")),
    ("Susan", "F", ("Sue",)), ("Jessica", "F", ("Jess",)), ("Sarah", "F", ()), ("Karen", "F", ()),
    ("Emily", "F", ()), ("Laura", "F", ()), ("Anna", "F", ()), ("Julia", "F", ()), ("Sophie", "F", ()),
    ("Claire", "F", ()), ("Rachel", "F", ()), ("Katharina", "F", ("Kathi",)),
)
WESTERN_LAST: Final[tuple[str, ...]] = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
    "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill", "Green", "Adams", "Baker", "Müller",
    "Schneider", "Meyer", "Weber", "Becker", "Dubois", "Moreau", "Rossi", "Bianchi", "Jensen", "Hansen",
    "Nielsen", "Kowalski", "Novak", "O'Connor", "MacLeod", "van der Berg",
)

#: Expats' home numbers: (country code, share, area codes or mobile prefixes).
FOREIGN_NUMBERS: Final[tuple[tuple[str, float, tuple[str, ...]], ...]] = (
    ("1", 0.55, ("212", "646", "917", "415", "310", "312", "617", "713", "206", "404")),
    ("44", 0.20, ("207", "203", "7400", "7500", "7800", "7900", "161")),
    ("49", 0.15, ("30", "89", "40", "151", "160", "171")),
    ("61", 0.10, ("29", "28", "39", "38", "412", "433")),
)

# --------------------------------------------------------------------------------------------------------
# Companies
# --------------------------------------------------------------------------------------------------------

#: Characters of trade names (字号), each with its one reading.
BRAND_CHARS: Final[tuple[tuple[str, str], ...]] = (
    ("正", "zheng"), ("宇", "yu"), ("华", "hua"), ("鑫", "xin"), ("泰", "tai"), ("恒", "heng"), ("宏", "hong"),
    ("盛", "sheng"), ("源", "yuan"), ("瑞", "rui"), ("丰", "feng"), ("祥", "xiang"), ("隆", "long"), ("兴", "xing"),
    ("达", "da"), ("通", "tong"), ("远", "yuan"), ("博", "bo"), ("锦", "jin"), ("泽", "ze"), ("润", "run"),
    ("嘉", "jia"), ("诚", "cheng"), ("信", "xin"), ("德", "de"), ("海", "hai"), ("天", "tian"), ("鸿", "hong"),
    ("昌", "chang"), ("顺", "shun"), ("富", "fu"), ("金", "jin"), ("力", "li"), ("永", "yong"), ("聚", "ju"),
    ("创", "chuang"), ("新", "xin"), ("亿", "yi"), ("东", "dong"), ("明", "ming"), ("光", "guang"), ("中", "zhong"),
    ("安", "an"), ("康", "kang"), ("龙", "long"), ("凯", "kai"), ("腾", "teng"), ("航", "hang"), ("晟", "sheng"),
    ("昊", "hao"), ("坤", "kun"), ("豪", "hao"), ("骏", "jun"), ("汇", "hui"), ("联", "lian"), ("众", "zhong"),
    ("佳", "jia"), ("友", "you"), ("铭", "ming"), ("科", "ke"), ("益", "yi"), ("万", "wan"), ("宝", "bao"),
    ("卓", "zhuo"), ("志", "zhi"), ("胜", "sheng"), ("英", "ying"), ("迪", "di"), ("威", "wei"), ("美", "mei"),
    ("尚", "shang"), ("赛", "sai"), ("立", "li"), ("旭", "xu"), ("晨", "chen"), ("阳", "yang"), ("辉", "hui"),
    ("弘", "hong"), ("森", "sen"), ("峰", "feng"), ("山", "shan"), ("川", "chuan"), ("运", "yun"), ("捷", "jie"),
    ("银", "yin"), ("鲁", "lu"), ("齐", "qi"), ("冠", "guan"), ("巨", "ju"), ("皓", "hao"), ("亨", "heng"),
)

class Industry(NamedTuple):
    """A line of business: its Chinese word, English translation, initials for domains, weight, home cities."""

    cn: str
    en: str
    abbr: str
    weight: float
    hubs: tuple[str, ...]  # cities where it clusters (more companies of it there)


INDUSTRIES: Final[tuple[Industry, ...]] = (
    Industry("钢管", "Steel Pipe", "gg", 6, ("聊城市", "沧州市", "泰安市", "天津市")),
    Industry("无缝钢管", "Seamless Steel Pipe", "wfgg", 2, ("聊城市",)),
    Industry("轴承", "Bearing", "zc", 4, ("聊城市", "无锡市")),
    Industry("不锈钢", "Stainless Steel", "bxg", 2, ("佛山市", "无锡市")),
    Industry("钢材", "Steel", "gc", 2, ("邯郸市", "天津市")),
    Industry("管业", "Pipe", "gy", 2, ("沧州市", "聊城市")),
    Industry("阀门", "Valve", "fm", 2, ("温州市", "天津市")),
    Industry("机械", "Machinery", "jx", 5, ()), Industry("机械制造", "Machinery Manufacturing", "jxzz", 2, ()),
    Industry("五金", "Hardware", "wj", 3, ("金华市", "佛山市")), Industry("建材", "Building Materials", "jc", 3, ()),
    Industry("化工", "Chemical", "hg", 3, ("淄博市", "潍坊市")), Industry("纺织", "Textile", "fz", 2, ("苏州市",)),
    Industry("食品", "Food", "sp", 2, ()), Industry("物流", "Logistics", "wl", 3, ("临沂市",)),
    Industry("电子", "Electronics", "dz", 2, ("深圳市", "东莞市")), Industry("科技", "Technology", "kj", 5, ()),
    Industry("贸易", "Trading", "my", 4, ()), Industry("商贸", "Trading", "sm", 3, ()),
    Industry("医药", "Pharmaceutical", "yy", 1, ()), Industry("包装", "Packaging", "bz", 1, ()),
    Industry("印刷", "Printing", "ys", 1, ()), Industry("汽车配件", "Auto Parts", "qcpj", 2, ()),
    Industry("环保设备", "Environmental Equipment", "hbsb", 2, ()),
    Industry("建筑工程", "Construction Engineering", "jzgc", 2, ()),
    Industry("电气", "Electric", "dq", 2, ()), Industry("塑胶", "Plastics", "sj", 1, ("东莞市",)),
    Industry("纸业", "Paper", "zy", 1, ()), Industry("粮油", "Grain and Oil", "ly", 1, ()),
    Industry("家具", "Furniture", "jj", 1, ("佛山市",)), Industry("新能源", "New Energy", "xny", 1, ()),
    Industry("铸造", "Casting", "zz", 1, ("泊头市",)), Industry("实业", "Industrial", "sy", 2, ()),
    Industry("工贸", "Industry and Trade", "gm", 2, ()), Industry("网络科技", "Network Technology", "wlkj", 1, ()),
)

#: (legal-form suffix, English, weight)
SUFFIXES: Final[tuple[tuple[str, str, float], ...]] = (
    ("有限公司", "Co., Ltd.", 70), ("有限责任公司", "Co., Ltd.", 12), ("股份有限公司", "Co., Ltd.", 7),
    ("集团有限公司", "Group Co., Ltd.", 5), ("厂", "Factory", 3), ("集团", "Group", 2), ("经营部", "Trading Dept.", 1),
)
#: Local parts of shared role mailboxes on a company domain.
ROLE_LOCALS: Final[tuple[tuple[str, float], ...]] = (
    ("sales", 30), ("info", 20), ("service", 8), ("admin", 8), ("office", 8), ("xiaoshou", 6), ("caigou", 5),
    ("market", 5), ("kefu", 4), ("hr", 3), ("caiwu", 3),
)
DOMAIN_TLDS: Final[tuple[tuple[str, float], ...]] = (
    (".com", 60), (".cn", 15), (".com.cn", 18), (".net", 7),
)

#: Job titles: bosses, assistants (who often answer the boss's phone) and everyone else.
TITLES_BOSS: Final[tuple[str, ...]] = ("总经理", "董事长", "老板", "总经理", "法人代表", "执行董事")
TITLES_ASSISTANT: Final[tuple[str, ...]] = ("总经理助理", "秘书", "办公室主任", "助理", "行政主管")
TITLES_STAFF: Final[tuple[tuple[str, float], ...]] = (
    ("采购经理", 10), ("采购", 12), ("采购部长", 3), ("销售经理", 6), ("业务经理", 6), ("业务员", 5),
    ("技术部经理", 3), ("工程师", 5), ("技术员", 4), ("厂长", 4), ("副总", 3), ("副总经理", 3), ("财务", 5),
    ("会计", 4), ("出纳", 2), ("仓库主管", 2), ("生产主管", 2), ("质检", 2), ("项目经理", 4), ("经理", 8),
    ("主管", 3), ("部长", 2),
)
TITLES_EN: Final[dict[str, str]] = {
    "总经理": "General Manager", "董事长": "Chairman", "老板": "Owner", "法人代表": "Legal Representative",
    "执行董事": "Executive Director", "总经理助理": "Assistant to GM", "秘书": "Secretary",
    "办公室主任": "Office Manager", "助理": "Assistant", "行政主管": "Admin Supervisor",
    "采购经理": "Purchasing Manager", "采购": "Buyer", "采购部长": "Head of Purchasing",
    "销售经理": "Sales Manager", "业务经理": "Business Manager", "业务员": "Sales Rep",
    "技术部经理": "Technical Manager", "工程师": "Engineer", "技术员": "Technician", "厂长": "Plant Manager",
    "副总": "Deputy GM", "副总经理": "Deputy General Manager", "财务": "Finance", "会计": "Accountant",
    "出纳": "Cashier", "仓库主管": "Warehouse Supervisor", "生产主管": "Production Supervisor", "质检": "QC",
    "项目经理": "Project Manager", "经理": "Manager", "主管": "Supervisor", "部长": "Head of Dept.",
}
#: How a title shortens after a surname when people are addressed: 陈总, 王经理, 李工.
ADDRESS_FORMS: Final[dict[str, str]] = {
    "总经理": "总", "董事长": "董", "老板": "总", "法人代表": "总", "执行董事": "总", "副总": "总",
    "副总经理": "总", "采购经理": "经理", "销售经理": "经理", "业务经理": "经理", "技术部经理": "经理",
    "项目经理": "经理", "经理": "经理", "工程师": "工", "技术员": "工", "厂长": "厂长", "办公室主任": "主任",
    "会计": "会计", "部长": "部长", "采购部长": "部长", "主管": "主管",
}

# --------------------------------------------------------------------------------------------------------
# Contact habits
# --------------------------------------------------------------------------------------------------------

#: Mobile number blocks with rough weights (China Mobile's 13x/15x blocks dominate older records).
MOBILE_PREFIXES: Final[tuple[tuple[str, float], ...]] = (
    ("139", 8), ("138", 8), ("135", 6), ("136", 5), ("137", 5), ("134", 3), ("150", 4), ("151", 4), ("152", 3),
    ("157", 1), ("158", 4), ("159", 4), ("182", 3), ("183", 2), ("187", 3), ("188", 2), ("147", 1), ("178", 1),
    ("130", 4), ("131", 4), ("132", 3), ("155", 3), ("156", 3), ("185", 3), ("186", 4), ("176", 2), ("166", 1),
    ("133", 3), ("153", 2), ("180", 2), ("181", 2), ("189", 3), ("177", 2), ("173", 1), ("199", 1), ("191", 1),
    ("198", 1), ("175", 1),
)
#: Free-mail providers used for personal addresses in China (QQ mail dominates).
FREEMAIL_CN: Final[tuple[tuple[str, float], ...]] = (
    ("qq.com", 48), ("163.com", 22), ("126.com", 9), ("sina.com", 5), ("foxmail.com", 4), ("139.com", 3),
    ("sohu.com", 2), ("yeah.net", 2), ("hotmail.com", 3), ("gmail.com", 2),
)
FREEMAIL_WEST: Final[tuple[tuple[str, float], ...]] = (
    ("gmail.com", 50), ("outlook.com", 15), ("yahoo.com", 12), ("hotmail.com", 10), ("icloud.com", 8),
    ("gmx.de", 5),
)
#: Misspelt domains as typed on phones and in a hurry.
DOMAIN_TYPOS: Final[dict[str, tuple[str, ...]]] = {
    "qq.com": ("qq.con", "qq.cm", "qq.comm", "qq.co", "qq。com", "qq.com.cn"),
    "163.com": ("163.cm", "163.con", "163.co", "136.com"),
    "126.com": ("126.con", "126.cm"),
    "sina.com": ("sina.con", "sian.com"),
    "gmail.com": ("gmial.com", "gmail.con", "gamil.com"),
    "hotmail.com": ("hotmial.com", "hotmail.con"),
    "foxmail.com": ("foxmial.com",),
    "outlook.com": ("outlok.com",),
    "yahoo.com": ("yahoo.con", "yaho.com"),
}
#: What staff typed into a mandatory field when they did not know the value (it means "missing").
PLACEHOLDER_MOBILES: Final[tuple[str, ...]] = ("13800000000", "11111111111", "无", "-", "0", "13888888888", "/")
PLACEHOLDER_EMAILS: Final[tuple[str, ...]] = ("test@test.com", "无", "-", "无邮箱", "0", "a@a.com", "/")
PLACEHOLDER_TEXT: Final[tuple[str, ...]] = ("无", "-", "不详", "/", "暂无")

# --------------------------------------------------------------------------------------------------------
# Free text
# --------------------------------------------------------------------------------------------------------

NOTES: Final[tuple[str, ...]] = (
    "老客户", "已报价", "需回访", "年底有采购计划", "付款慢", "要求开专票", "展会认识", "朋友介绍", "电话打不通",
    "换号了", "已流失", "大客户", "价格敏感", "要样品", "只做现款", "春节后再联系", "已签合同", "对接人换了",
    "新厂在建", "有意向", "同行", "不要打电话", "微信联系", "周末不接电话", "月结60天", "走物流到付", "老板亲戚",
    "每年两次大单", "2016年合作过", "投诉过质量问题",
)
NOTES_EN: Final[tuple[str, ...]] = (
    "met at Canton Fair", "prefers email", "sent quotation", "follow up in Q3", "samples sent", "price sensitive",
    "agent for EU market", "call after 3pm Beijing time",
)
SEGMENTS: Final[tuple[str, ...]] = ("A", "B", "C", "A", "B", "VIP", "重点")
SALES_REPS: Final[tuple[str, ...]] = ("张磊", "李娜", "王强", "刘洋", "陈静", "赵志刚", "孙丽华", "周杰", "Tony")

# --------------------------------------------------------------------------------------------------------
# Web form
# --------------------------------------------------------------------------------------------------------

CHANNELS: Final[tuple[tuple[str, float], ...]] = (
    ("百度推广", 30), ("官网", 20), ("微信公众号", 15), ("抖音", 8), ("1688", 8), ("展会扫码", 6),
    ("360搜索", 4), ("阿里巴巴国际站", 4), ("朋友推荐", 3), ("今日头条", 2),
)
MESSAGES: Final[tuple[str, ...]] = (
    "询价", "请报价", "需要DN50无缝钢管报价", "想了解产品价格", "申请样品", "代理加盟咨询", "请尽快联系我",
    "有现货吗", "需要6205轴承200套", "请发产品目录", "求购", "", "", "",
)
FAKE_PEOPLE: Final[tuple[tuple[str, str, str], ...]] = (
    # (name, mobile, email) typed to try the form or to get past it
    ("张三", "13800138000", "test@test.com"), ("李四", "13912345678", "123@qq.com"),
    ("王五", "12345678901", "123456@qq.com"), ("赵六", "13800138000", ""), ("测试", "13888888888", "test@qq.com"),
    ("John Doe", "+1 555 0100", "john.doe@example.com"), ("Mickey Mouse", "13800138000", "mickey@disney.com"),
    ("Test User", "13800138000", "test@example.com"), ("asdf", "11111111111", "asdf@asdf.com"),
    ("aaa", "13333333333", "aaa@aaa.com"), ("Donald Duck", "", "donald@duck.com"), ("test", "12345678910", "test"),
)
AD_SPAM: Final[tuple[tuple[str, str], ...]] = (
    # (name, company or message)
    ("代开发票", "正规代开各类发票 13712345678 微信同号"), ("专业SEO优化", "百度首页排名 http://www.seo-paiming88.com"),
    ("网站建设", "网站建设 小程序开发 http://www.jz-web365.cn"), ("贷款", "无抵押信用贷款 当天放款 QQ:2851234567"),
    ("刷单兼职", "日结300+ 加QQ群 564738291"), ("快速办证", "各类证件办理 http://bz-zheng.net"),
    ("SEO Expert", "Rank #1 on Google http://seo-rank-top.example"), ("跨境收款", "低费率 http://pay-cross.example.cn"),
)
BOT_EMAIL_DOMAINS: Final[tuple[str, ...]] = ("gmail.com", "yahoo.com", "mail.ru", "outlook.com", "hotmail.com")

# --------------------------------------------------------------------------------------------------------
# Traditional characters: simplified -> traditional for every character above that differs.
# --------------------------------------------------------------------------------------------------------
_SIMPLIFIED = (
    "张刘陈杨黄赵吴孙马罗郑谢许韩冯邓肖蒋叶苏吕卢钟谭陆韦贾邹闫龙贺顾龚万钱严汤乔赖齐聂庞单区欧阳诸葛东慕"
    "伟强军杰涛刚辉鹏华飞凯亮龙阳帅宁颖洁红兰莉凤丽艳静国晓学庆诗梦轩兴达丰诚宝鸿顺亿腾汇联众铭胜运银鲁聚"
    "昊骏锦泽润远业团钢机械电贸纺织医药农设备汽车环饰装筑塑胶纸粮饲网络软销实发展责济岛潍临烟泽广莞温苏无锡"
    "庄郑汉长连厦门尔滨郸沧坊莱荫历桥区县经开园产门业贝刷质"
)
_TRADITIONAL = (
    "張劉陳楊黃趙吳孫馬羅鄭謝許韓馮鄧蕭蔣葉蘇呂盧鍾譚陸韋賈鄒閆龍賀顧龔萬錢嚴湯喬賴齊聶龐單區歐陽諸葛東慕"
    "偉強軍傑濤剛輝鵬華飛凱亮龍陽帥寧穎潔紅蘭莉鳳麗艷靜國曉學慶詩夢軒興達豐誠寶鴻順億騰匯聯眾銘勝運銀魯聚"
    "昊駿錦澤潤遠業團鋼機械電貿紡織醫藥農設備汽車環飾裝築塑膠紙糧飼網絡軟銷實發展責濟島濰臨煙澤廣莞溫蘇無錫"
    "莊鄭漢長連廈門爾濱鄲滄坊萊蔭歷橋區縣經開園產門業貝刷質"
)
TRADITIONAL: Final[dict[str, str]] = dict(zip(_SIMPLIFIED, _TRADITIONAL, strict=True))

# fmt: on
