"""The tables behind `services.wishes.demo`: 龙锦社区's big party committee (大党委) with its 30 member
units and their resource lists, the community's needs and project lists, volunteers, the points
supermarket, and the wishes the demo replays through the real flow.

Modelled on a real community (常州市新北区三井街道龙锦社区); addresses, people and phone numbers are made
up. Units whose committee is the street's (三井街道大工委) take wishes from every community of the street.
"""

from __future__ import annotations

from dataclasses import dataclass

COMMUNITY = ("320411001001", "龙锦社区")
STREET = ("320411001", "三井街道")


@dataclass(frozen=True)
class R:
    """One line of a resource list (资源清单)."""

    kind: str
    title: str
    categories: tuple[str, ...]
    capacity: str
    description: str = ""


@dataclass(frozen=True)
class U:
    code: str
    name: str
    kind: str
    address: str
    party_members: int
    joined: int  # the year the unit joined the committee
    resources: tuple[R, ...]
    history: tuple[R, ...] = ()  # the previous half year's list
    street: bool = False  # joined the street's committee, not the community's


UNITS: tuple[U, ...] = (
    # 党政机关
    U(
        "MU001",
        "新北区税务局三井税务分局",
        "党政机关",
        "三井街道龙锦路 118 号",
        party_members=46,
        joined=2019,
        resources=(
            R(
                "志愿服务",
                "“税小蜜”党员志愿服务队",
                ("助老", "助学", "生活服务"),
                "每月 24 小时",
                "在职党员每月到社区报到服务，结对独居老人，开展陪伴、读报、助学辅导。",
            ),
            R(
                "教育培训",
                "个税汇算与社保缴费辅导",
                ("其他", "就业"),
                "每季度 1 场，可上门",
                "手把手教居民在手机上办理个税年度汇算、灵活就业社保缴费。",
            ),
            R("资金", "党建共建助学金", ("助学",), "每年 6000 元", "资助社区困难家庭学生购买学习用品。"),
        ),
        history=(R("志愿服务", "“税小蜜”党员志愿服务队", ("助老", "助学"), "每月 20 小时"),),
    ),
    U(
        "MU002",
        "常州市公安局新北分局三井派出所",
        "党政机关",
        "三井街道太湖东路 9 号",
        party_members=38,
        joined=2019,
        street=True,
        resources=(
            R(
                "其他",
                "户籍业务上门办理",
                ("助老", "助残", "其他"),
                "每月 2 次",
                "为行动不便的老人、残疾人上门采集信息、办理身份证和户口业务。",
            ),
            R("教育培训", "防范电信诈骗宣讲", ("助老", "其他"), "每月 1 场"),
        ),
    ),
    U(
        "MU003",
        "新北区城市管理局三井中队",
        "党政机关",
        "三井街道通江中路 266 号",
        party_members=21,
        joined=2020,
        street=True,
        resources=(
            R("其他", "便民摊点规范设置指导", ("就业", "生活服务"), "随需", "帮助居民依规申请临时便民摊点。"),
            R("志愿服务", "“城管进社区”志愿服务", ("生活服务",), "每月 8 小时"),
        ),
    ),
    U(
        "MU004",
        "新北区市场监督管理局三井分局",
        "党政机关",
        "三井街道龙锦路 120 号",
        party_members=17,
        joined=2021,
        resources=(
            R("教育培训", "食品安全与保健品防骗讲座", ("助老", "医疗健康"), "每季度 1 场"),
            R("法律援助", "消费纠纷调解", ("其他",), "随需"),
        ),
    ),
    U(
        "MU005",
        "新北区人力资源和社会保障局就业服务中心",
        "党政机关",
        "新北区府东路 1 号",
        party_members=24,
        joined=2019,
        resources=(
            R(
                "教育培训",
                "免费职业技能培训名额",
                ("就业", "助残"),
                "每半年 30 个名额",
                "育婴师、养老护理员、电商客服等工种，含残疾人专场。",
            ),
            R("其他", "“家门口”岗位推荐", ("就业",), "每月推送岗位 50 个以上"),
        ),
        history=(R("教育培训", "免费职业技能培训名额", ("就业",), "每半年 25 个名额"),),
    ),
    U(
        "MU006",
        "新北区消防救援大队三井消防站",
        "党政机关",
        "三井街道汉江路 58 号",
        party_members=19,
        joined=2020,
        resources=(
            R(
                "物资",
                "独居老人家庭烟感报警器",
                ("助老", "生活服务"),
                "本半年 40 只",
                "免费上门安装并讲解使用。",
            ),
            R("教育培训", "家庭消防安全检查", ("生活服务",), "每月 10 户"),
        ),
    ),
    # 群团组织
    U(
        "MU007",
        "新北区总工会",
        "群团组织",
        "新北区府东路 1 号",
        party_members=15,
        joined=2019,
        resources=(
            R("资金", "困难职工帮扶金", ("助困",), "每年 20000 元"),
            R("法律援助", "职工维权法律援助", ("其他", "就业"), "随需", "欠薪、工伤等劳动争议免费代理。"),
            R("物资", "冬季送温暖物资", ("助困", "助老"), "棉被 30 床、米油 50 份"),
        ),
        history=(R("物资", "夏季送清凉物资", ("助困", "助老"), "电风扇 20 台、防暑药品 50 份"),),
    ),
    U(
        "MU008",
        "共青团新北区委员会",
        "群团组织",
        "新北区府东路 1 号",
        party_members=9,
        joined=2020,
        resources=(
            R(
                "志愿服务",
                "大学生志愿者助学辅导",
                ("助学",),
                "每周末 10 人次",
                "常州大学、河海大学常州校区志愿者。",
            ),
            R("志愿服务", "青年志愿者“银龄数字课堂”", ("助老",), "每月 2 期"),
        ),
    ),
    U(
        "MU009",
        "新北区妇女联合会",
        "群团组织",
        "新北区府东路 1 号",
        party_members=8,
        joined=2019,
        resources=(
            R("教育培训", "巧娘技能培训（育婴、家政）", ("就业",), "每半年 20 个名额"),
            R("志愿服务", "巾帼志愿者关爱空巢老人", ("助老",), "每月 16 小时"),
            R("物资", "“春蕾”助学礼包", ("助学",), "本半年 30 份"),
        ),
    ),
    U(
        "MU010",
        "新北区残疾人联合会",
        "群团组织",
        "新北区通江中路 600 号",
        party_members=7,
        joined=2020,
        resources=(
            R(
                "物资",
                "辅助器具适配（轮椅、助行器、拐杖）",
                ("助残", "助老"),
                "本半年 25 件",
                "按评估免费适配。",
            ),
            R("医疗健康", "居家康复指导", ("助残",), "每月 6 户"),
        ),
        history=(R("物资", "辅助器具适配（轮椅、助行器）", ("助残",), "上半年 20 件"),),
    ),
    # 企事业单位
    U(
        "MU011",
        "常州市第二人民医院（新北院区）",
        "企事业单位",
        "新北区太湖东路 68 号",
        party_members=62,
        joined=2019,
        resources=(
            R("医疗健康", "党员医生进社区义诊", ("医疗健康", "助老"), "每月 1 次，每次半天"),
            R("志愿服务", "就医陪诊志愿服务", ("医疗健康", "助老"), "每月 12 人次"),
            R("医疗健康", "术后康复上门指导", ("医疗健康", "助残"), "每月 4 户"),
        ),
        history=(R("医疗健康", "党员医生进社区义诊", ("医疗健康",), "每月 1 次"),),
    ),
    U(
        "MU012",
        "常州市新北区龙锦小学",
        "企事业单位",
        "三井街道龙锦路 76 号",
        party_members=28,
        joined=2019,
        resources=(
            R("场地", "学校操场与报告厅错时开放", ("助学", "其他"), "周末及寒暑假"),
            R("志愿服务", "教师党员“四点半课堂”", ("助学",), "每周 3 次"),
            R("志愿服务", "暑期托管", ("助学",), "暑期 60 个名额"),
        ),
    ),
    U(
        "MU013",
        "国网常州供电公司新北供电中心",
        "企事业单位",
        "新北区汉江路 368 号",
        party_members=55,
        joined=2019,
        street=True,
        resources=(
            R(
                "技能服务",
                "“电力红马甲”上门检修",
                ("助老", "生活服务"),
                "每月 20 户",
                "老旧线路、插座、灯具免费检修。",
            ),
            R("教育培训", "安全用电进社区", ("生活服务",), "每季度 1 场"),
        ),
    ),
    U(
        "MU014",
        "中国银行常州新北支行",
        "企事业单位",
        "新北区通江中路 398 号",
        party_members=33,
        joined=2020,
        resources=(
            R("资金", "“中银助学”爱心基金", ("助学", "助困"), "每年 10000 元"),
            R("教育培训", "反诈与金融知识讲座", ("助老",), "每月 1 场"),
            R("其他", "社保卡上门激活与补办", ("助老", "生活服务"), "随需"),
        ),
    ),
    U(
        "MU015",
        "龙锦花园物业服务中心",
        "企事业单位",
        "龙锦花园 3 幢底层",
        party_members=4,
        joined=2021,
        resources=(
            R("技能服务", "水电维修、管道疏通", ("生活服务", "助老"), "工作日随叫随到", "独居老人免人工费。"),
            R("场地", "小区议事厅", ("其他",), "40 座，需预约"),
        ),
    ),
    U(
        "MU016",
        "三井街道社区卫生服务中心",
        "企事业单位",
        "三井街道龙锦路 200 号",
        party_members=26,
        joined=2019,
        resources=(
            R("医疗健康", "家庭医生上门随访", ("医疗健康", "助老"), "每月 30 户"),
            R("医疗健康", "老年人免费体检", ("医疗健康", "助老"), "本半年 120 人"),
        ),
        history=(R("医疗健康", "家庭医生上门随访", ("医疗健康",), "每月 25 户"),),
    ),
    U(
        "MU017",
        "中国移动常州新北分公司",
        "企事业单位",
        "新北区太湖东路 101 号",
        party_members=31,
        joined=2021,
        resources=(
            R("教育培训", "老年人智能手机培训", ("助老",), "每月 2 期，每期 15 人"),
            R("物资", "爱心流量卡与旧手机", ("助学", "助困"), "本半年 20 份"),
        ),
    ),
    U(
        "MU018",
        "新北区龙锦幼儿园",
        "企事业单位",
        "锦绣苑北门",
        party_members=11,
        joined=2022,
        resources=(R("教育培训", "0-3 岁科学育儿讲座", ("助学",), "每季度 1 场"),),
    ),
    # 社会组织
    U(
        "MU019",
        "龙锦社区志愿者协会",
        "社会组织",
        "龙锦社区党群服务中心",
        party_members=12,
        joined=2019,
        resources=(
            R("志愿服务", "邻里互助志愿服务队", ("助老", "助残", "生活服务"), "注册志愿者 180 人"),
            R("志愿服务", "独居老人每周探访", ("助老",), "结对 48 户"),
        ),
        history=(R("志愿服务", "邻里互助志愿服务队", ("助老", "生活服务"), "注册志愿者 160 人"),),
    ),
    U(
        "MU020",
        "新北区律师协会龙锦调解工作室",
        "社会组织",
        "龙锦社区党群服务中心二楼",
        party_members=6,
        joined=2020,
        resources=(
            R("法律援助", "律师坐班与法律咨询", ("其他", "助困"), "每周四下午"),
            R("法律援助", "家事纠纷调解", ("其他", "助老"), "随需"),
        ),
    ),
    U(
        "MU021",
        "新北区阳光社工服务中心",
        "社会组织",
        "龙锦社区党群服务中心二楼",
        party_members=3,
        joined=2021,
        resources=(
            R("志愿服务", "心理疏导与哀伤陪伴", ("医疗健康", "助老"), "每月 10 个个案"),
            R("教育培训", "青少年成长小组", ("助学",), "每学期 1 期"),
        ),
    ),
    U(
        "MU022",
        "新北区红十字会三井服务站",
        "社会组织",
        "三井街道通江中路 266 号",
        party_members=2,
        joined=2020,
        street=True,
        resources=(
            R("教育培训", "应急救护培训", ("其他", "医疗健康"), "每季度 1 期"),
            R("物资", "博爱家园救助物资", ("助困",), "本半年 40 份"),
        ),
    ),
    U(
        "MU023",
        "新北区义工联合会",
        "社会组织",
        "新北区河海东路 30 号",
        party_members=4,
        joined=2022,
        resources=(R("志愿服务", "周末义工服务队", ("助老", "生活服务"), "每周末 6 人"),),
    ),
    # 商户
    U(
        "MU024",
        "龙锦农贸市场",
        "商户",
        "龙锦路与汉江路交叉口",
        party_members=1,
        joined=2020,
        resources=(
            R("物资", "爱心菜篮子", ("助困", "助老"), "每月 30 份"),
            R("场地", "便民服务摊位", ("就业",), "2 个"),
        ),
    ),
    U(
        "MU025",
        "龙锦美发屋",
        "商户",
        "龙锦商业街 12 号",
        party_members=0,
        joined=2021,
        resources=(
            R(
                "技能服务",
                "老人、残疾人上门理发",
                ("助老", "助残"),
                "每月 15 人次",
                "每月第二个周三集中服务。",
            ),
        ),
    ),
    U(
        "MU026",
        "康济大药房龙锦店",
        "商户",
        "龙锦商业街 3 号",
        party_members=1,
        joined=2021,
        resources=(
            R("医疗健康", "慢病药品送药上门", ("医疗健康", "助老"), "3 公里内"),
            R("医疗健康", "免费测血压血糖", ("医疗健康",), "每天"),
        ),
    ),
    U(
        "MU027",
        "龙锦惠民超市",
        "商户",
        "龙锦商业街 20 号",
        party_members=0,
        joined=2021,
        resources=(
            R("物资", "米面油爱心礼包", ("助困",), "每月 10 份"),
            R("其他", "积分超市代储代发", ("其他",), "常年"),
        ),
    ),
    U(
        "MU028",
        "龙锦家电维修部",
        "商户",
        "美食街 8 号",
        party_members=1,
        joined=2020,
        resources=(
            R("技能服务", "家电义务维修", ("生活服务", "助老", "助困"), "每月 20 户", "只收配件成本。"),
        ),
        history=(R("技能服务", "家电义务维修", ("生活服务",), "每月 15 户"),),
    ),
    U(
        "MU029",
        "明亮眼镜龙锦店",
        "商户",
        "龙锦商业街 7 号",
        party_members=0,
        joined=2023,
        resources=(R("医疗健康", "老人免费验光、平价老花镜", ("助老", "医疗健康"), "每月 20 人"),),
    ),
    U(
        "MU030",
        "龙锦家常菜馆（爱心助餐点）",
        "商户",
        "美食街 16 号",
        party_members=1,
        joined=2022,
        resources=(R("物资", "老年助餐、送餐上门", ("助老", "助困"), "每天 40 份"),),
    ),
)

# the demo's liaison accounts (services/registry/demo.py) and the unit each acts for
LIAISONS = {"MU001": "unit-liaison", "MU002": "unit-liaison-2", "MU003": "unit-liaison-3"}

# volunteers per unit (在职党员 who reported to the community); the rest are plain volunteers
UNIT_VOLUNTEERS = {
    "MU001": 4, "MU002": 2, "MU003": 1, "MU005": 1, "MU006": 1, "MU007": 1, "MU008": 2, "MU009": 1,
    "MU010": 1, "MU011": 3, "MU012": 2, "MU013": 1, "MU014": 2, "MU015": 1, "MU016": 1, "MU017": 1,
    "MU019": 2, "MU020": 1, "MU021": 1,
}  # fmt: skip
PLAIN_VOLUNTEERS = 11


@dataclass(frozen=True)
class Need:
    category: str
    title: str
    description: str
    source: str
    households: int
    status: str
    unit: str | None = None
    days_ago: int = 60


NEEDS: tuple[Need, ...] = (
    Need(
        "助老",
        "独居老人吃饭难，希望有助餐点",
        "七十岁以上独居老人做饭不便，走访中反映最多。",
        "走访",
        36,
        "matched",
        "MU030",
        150,
    ),
    Need(
        "助老",
        "老旧楼道缺扶手、照明暗",
        "龙锦花园、锦绣苑 2000 年前建成的楼栋，楼道无扶手。",
        "议事会",
        58,
        "matched",
        "MU015",
        140,
    ),
    Need(
        "助学",
        "放学后孩子无人看管",
        "双职工家庭 16:30 至 18:00 孩子无人照看。",
        "问卷",
        42,
        "met",
        "MU012",
        170,
    ),
    Need(
        "医疗健康",
        "慢病老人需要定期随访",
        "高血压、糖尿病老人行动不便，去卫生服务中心路远。",
        "走访",
        27,
        "matched",
        "MU011",
        120,
    ),
    Need("生活服务", "家电维修贵、难找人", "心愿单中家电维修类占比最高。", "微心愿", 65, "met", "MU028", 100),
    Need(
        "就业", "大龄失业人员就业难", "40-50 岁失业人员希望在家门口就业。", "走访", 14, "matched", "MU005", 90
    ),
    Need(
        "生活服务",
        "电动自行车充电难，飞线充电多",
        "香树湾、怡景园缺少集中充电桩。",
        "议事会",
        120,
        "open",
        None,
        45,
    ),
    Need(
        "助残",
        "残疾人辅具老化需要更换",
        "持证残疾人 9 户反映轮椅、拐杖损坏。",
        "走访",
        9,
        "matched",
        "MU010",
        80,
    ),
    Need("其他", "希望律师定期进小区", "赡养、继承、物业纠纷咨询需求。", "问卷", 31, "met", "MU020", 160),
    Need("助老", "老年人不会用智能手机", "挂号、缴费、视频通话都要靠子女。", "议事会", 48, "open", None, 30),
    Need("助困", "困难家庭冬季取暖", "低保、低边家庭被褥单薄。", "走访", 22, "open", None, 12),
    Need(
        "其他",
        "小区增设篮球场",
        "场地不具备条件，已改为引导使用龙锦小学错时开放操场。",
        "议事会",
        15,
        "dropped",
        None,
        130,
    ),
)


@dataclass(frozen=True)
class Project:
    title: str
    description: str
    category: str
    budget: int | None
    status: str
    unit: str | None
    claimed_month: int | None  # month of the current year
    progress: tuple[tuple[int, int, str], ...] = ()  # (quarter, percent, note)
    review: tuple[float, str] | None = None


PROJECTS: tuple[Project, ...] = (
    Project(
        "“银龄助餐”爱心餐桌",
        "为 70 岁以上独居、空巢老人提供中晚餐，行动不便的送餐上门。",
        "助老",
        60000,
        "in_progress",
        "MU030",
        2,
        (
            (1, 20, "完成餐厅适老化改造，登记用餐老人 32 人"),
            (2, 45, "开通送餐上门，日均 26 份"),
            (3, 70, "用餐老人增至 41 人，引入助餐补贴"),
        ),
    ),
    Project(
        "“四点半课堂”",
        "教师党员和大学生志愿者为双职工家庭孩子提供课后看护和作业辅导。",
        "助学",
        20000,
        "done",
        "MU012",
        2,
        (
            (1, 30, "开班 2 个，报名 38 人"),
            (2, 60, "增开周末兴趣课"),
            (3, 85, "暑期托管 56 人"),
            (4, 100, "全年服务 4100 人次"),
        ),
        (93.5, "覆盖面广，家长满意度 98%，建议明年扩大规模"),
    ),
    Project(
        "老旧楼道扶手和感应灯改造",
        "龙锦花园 1-12 幢、锦绣苑 1-8 幢加装楼道扶手和声控感应灯。",
        "助老",
        85000,
        "in_progress",
        "MU015",
        3,
        ((1, 10, "完成摸排与方案"), (2, 35, "龙锦花园 12 幢完工"), (3, 60, "锦绣苑开工")),
    ),
    Project(
        "“家门口”就业服务站",
        "在社区党群服务中心设就业服务站，每月一场招聘会，提供技能培训名额。",
        "就业",
        30000,
        "done",
        "MU005",
        1,
        (
            (1, 25, "服务站挂牌"),
            (2, 55, "举办招聘会 3 场"),
            (3, 80, "推荐就业 23 人"),
            (4, 100, "全年推荐就业 37 人"),
        ),
        (88.0, "成效明显；建议增加适合大龄人员的岗位"),
    ),
    Project(
        "家庭医生签约与慢病随访",
        "为辖区慢病老人签约家庭医生，每季度上门随访一次。",
        "医疗健康",
        40000,
        "in_progress",
        "MU011",
        3,
        ((1, 15, "签约 120 户"), (2, 40, "完成第二季度随访"), (3, 65, "签约增至 210 户")),
    ),
    Project(
        "残疾人辅具适配与居家康复",
        "为持证残疾人评估适配辅具，对重度残疾人开展居家康复指导。",
        "助残",
        25000,
        "in_progress",
        "MU010",
        4,
        ((2, 30, "评估 18 人，适配辅具 11 件"), (3, 55, "开展居家康复 6 户")),
    ),
    Project(
        "青少年税法宣传与助学结对",
        "税务党员与困难家庭学生结对，开展税法课堂与学业辅导。",
        "助学",
        8000,
        "claimed",
        "MU001",
        9,
    ),
    Project(
        "电动自行车集中充电棚",
        "在香树湾、怡景园建设集中充电棚，解决飞线充电隐患。",
        "生活服务",
        120000,
        "open",
        None,
        None,
    ),
)

RULES = (  # (name, category, points per wish, points per hour, active)
    ("完成微心愿", None, 10, 0, True),
    ("助老服务加分", "助老", 5, 0, True),
    ("助残服务加分", "助残", 5, 0, True),
    ("服务时长", None, 0, 5, True),
    ("完成微心愿（2025 年标准）", None, 8, 0, False),
)

CATALOGUE = (  # (name, description, price, stock)
    ("洗衣液 2kg", "蓝月亮深层洁净洗衣液", 30, 40),
    ("大米 5kg", "东北大米，龙锦惠民超市代发", 50, 30),
    ("食用油 1.8L", "压榨花生油", 45, 25),
    ("抽纸 10 包", "原生木浆抽纸一提", 20, 60),
    ("毛巾礼盒", "纯棉毛巾两条", 15, 50),
    ("牙膏牙刷套装", "含牙膏一支、牙刷两支", 15, 45),
    ("理发券", "龙锦美发屋理发一次", 20, 30),
    ("体检券", "三井街道社区卫生服务中心基础体检一次", 80, 10),
    ("家电清洗券", "空调或油烟机清洗一次（龙锦家电维修部）", 60, 12),
    ("保温杯", "不锈钢保温杯 500ml", 40, 20),
    ("折叠雨伞", "已兑完，等待补货", 25, 0),
)

REDEMPTIONS = (  # (volunteer index, item name, quantity, days ago, cancelled reason)
    (0, "洗衣液 2kg", 1, 58, None),
    (2, "大米 5kg", 1, 44, None),
    (5, "理发券", 2, 31, None),
    (1, "抽纸 10 包", 1, 27, "志愿者改兑大米，退回积分"),
    (1, "大米 5kg", 1, 26, None),
    (8, "体检券", 1, 16, None),
    (4, "毛巾礼盒", 1, 9, None),
    (12, "保温杯", 1, 3, None),
)


@dataclass(frozen=True)
class W:
    """A wish the demo replays. `end` is its state at the end; `age` is how many days ago its last step
    happened; `by` is who claims it (a unit code, or "V" for a plain volunteer)."""

    category: str
    title: str
    description: str
    end: str
    age: float
    by: str | None = None
    value: int = 0
    done: str = ""  # the completion note
    hours: float = 2.0  # hours each serving volunteer gives
    directed: tuple[str, ...] = ()
    first: str | None = None  # who held it before a withdrawal or a lapse
    twist: str | None = None  # withdraw | lapse | dispute | auto_confirm
    note: str = ""  # a rejection or cancellation reason
    app: bool = False  # ordered in the mini-program (else a grid worker filed it)
    photo: bool = False  # the resident sent a photo
    privacy: bool = False
    wanted_in: int | None = None  # wanted within this many days from today


WISHES: tuple[W, ...] = (
    # ---- closed (销单), from summer to last week
    W(
        "助老",
        "需要一台折叠轮椅",
        "老伴去年中风后行动不便，家里的旧轮椅坏了，想要一台折叠轮椅，方便每周去卫生服务中心复查。",
        end="closed",
        age=150,
        by="MU010",
        value=680,
        done="区残联评估后适配折叠轮椅一台，已送货上门并教会家属使用。",
    ),
    W(
        "助学",
        "孩子高考完，想请老师指导填志愿",
        "孩子今年高考，家里没人懂志愿填报，想请老师帮忙看看报哪些学校合适。",
        end="closed",
        age=146,
        by="MU012",
        app=True,
        done="两位教师党员上门一对一指导，已完成志愿填报。",
    ),
    W(
        "生活服务",
        "空调不制冷，独居老人怕热",
        "家里的空调开了不制冷，一个人住，天太热晚上睡不着，请师傅上门看看。",
        end="closed",
        age=138,
        by="MU028",
        value=120,
        hours=0,
        photo=True,
        done="检查为缺氟，已加氟并清洗滤网，只收配件成本。",
    ),
    W(
        "助学",
        "暑假孩子没人看，想参加托管",
        "夫妻俩都在厂里上班，暑假孩子在家没人看，想给孩子报社区的暑期托管。",
        end="closed",
        age=124,
        by="MU012",
        hours=6,
        app=True,
        done="已安排进入龙锦小学暑期托管班，8 周全勤。",
    ),
    W(
        "助困",
        "家里没有电风扇",
        "家里只有一台旧风扇也坏了，孩子热得睡不好，想要一台落地扇。",
        end="closed",
        age=110,
        by="MU027",
        value=150,
        hours=0,
        done="送去落地扇一台。",
    ),
    W(
        "医疗健康",
        "陪同去二院做白内障术前检查",
        "独居，下周要去二院做白内障手术前的检查，子女在外地，希望有人陪同。",
        end="closed",
        age=96,
        by="MU011",
        hours=4,
        twist="auto_confirm",
        done="陪诊志愿者全程陪同检查、取报告，已预约手术时间。",
    ),
    W(
        "助学",
        "开学了，孩子需要一张书桌",
        "孩子上三年级，家里没有书桌，一直趴在饭桌上写作业。",
        end="closed",
        age=82,
        by="MU014",
        value=320,
        hours=1.5,
        done="送去书桌和台灯各一，并帮忙组装。",
    ),
    W(
        "生活服务",
        "老房子插座冒火花",
        "房子是九十年代的，厨房插座一插电器就冒火花，怕引起火灾。",
        end="closed",
        age=76,
        by="MU013",
        value=60,
        hours=1.5,
        photo=True,
        done="“电力红马甲”上门更换插座两个，检查了入户线路。",
    ),
    W(
        "助老",
        "理发上门",
        "卧床三年，出不了门，头发很长了，想请理发师上门理个发。",
        end="closed",
        age=70,
        by="MU025",
        hours=0,
        done="美发屋师傅上门理发，并约定每月来一次。",
    ),
    W(
        "就业",
        "就业推荐：想找保安或保洁工作",
        "今年 50 岁，原来的厂关了以后一直没工作，想找一份离家近的保安或保洁工作。",
        end="closed",
        age=57,
        by="MU005",
        app=True,
        done="推荐至龙锦花园物业做保洁，已上岗。",
    ),
    W(
        "助老",
        "中秋节想吃上一顿团圆饭",
        "老两口子女都在外地，中秋节不回来，想和邻居们一起吃顿团圆饭。",
        end="closed",
        age=56,
        by="MU030",
        hours=0,
        done="中秋节当天在爱心助餐点办了团圆宴，请了 12 位空巢老人。",
    ),
    W(
        "助残",
        "电动轮椅电池不行了",
        "电动轮椅的电池充一次电只能走几百米，想请人帮忙修一修或换个电池。",
        end="closed",
        age=45,
        by="MU001",
        value=420,
        twist="dispute",
        done="更换锂电池一组，试骑两公里正常。",
    ),
    W(
        "医疗健康",
        "想参加一次老年人免费体检",
        "老两口好几年没体检了，听说社区有免费体检，想报个名。",
        end="closed",
        age=39,
        by="MU016",
        hours=1,
        done="已安排到卫生服务中心体检，报告已由家庭医生上门解读。",
    ),
    W(
        "其他",
        "子女不尽赡养义务，想咨询律师",
        "三个子女都不管我，生病住院也没人来，想问问能不能走法律途径。",
        end="closed",
        age=33,
        by="MU020",
        hours=3,
        privacy=True,
        done="律师两次上门咨询，组织家庭调解，子女签订赡养协议。",
    ),
    W(
        "助老",
        "想学用智能手机视频通话",
        "子女在外地，想学会用微信和他们视频，还想学手机挂号。",
        end="closed",
        age=21,
        by="V",
        hours=3,
        first="MU017",
        twist="lapse",
        app=True,
        done="志愿者上门教了三次，已能独立视频通话和预约挂号。",
    ),
    W(
        "助困",
        "冬季棉被",
        "低保户，家里的被子太薄了，天冷了，想要两床厚棉被。",
        end="closed",
        age=12,
        by="MU007",
        value=300,
        hours=1,
        done="送去棉被两床、棉衣一件。",
    ),
    W(
        "医疗健康",
        "上门测血压血糖",
        "高血压加糖尿病，腿脚不方便，希望医生能定期上门测一测。",
        end="closed",
        age=6,
        by="MU016",
        hours=1.5,
        done="家庭医生上门测量并建立随访档案，每月随访一次。",
    ),
    # ---- confirmed (已确认), waiting to be closed
    W(
        "助老",
        "配一副老花镜",
        "老花眼越来越厉害，看不清药盒上的字，想配一副合适的老花镜。",
        end="confirmed",
        age=4,
        by="MU029",
        value=80,
        hours=0,
        app=True,
        done="免费验光，配老花镜一副。",
    ),
    W(
        "生活服务",
        "厨房下水道堵了",
        "厨房下水道堵了好几天，自己疏通不了，污水都漫出来了。",
        end="confirmed",
        age=2,
        by="MU015",
        hours=1,
        done="物业师傅上门疏通，并更换老化的下水管。",
    ),
    W(
        "助学",
        "想要一些课外书和文具",
        "家里两个孩子上小学，想要一些课外书和文具。",
        end="confirmed",
        age=1,
        by="MU001",
        value=200,
        hours=1,
        app=True,
        done="送去课外书 20 本、文具礼包两份。",
    ),
    # ---- completed (已完成), waiting for the resident
    W(
        "生活服务",
        "家里想装个烟雾报警器",
        "老人做饭经常忘记关火，想在厨房装个烟雾报警器。",
        end="completed",
        age=3,
        by="MU006",
        value=120,
        hours=1,
        done="安装烟感报警器一只，讲解了使用和测试方法。",
    ),
    W(
        "助老",
        "八十岁生日，想有人陪着过",
        "老伴走了，子女在国外，下周八十岁生日，想有人陪着一起过。",
        end="completed",
        age=1.5,
        by="MU009",
        value=100,
        hours=3,
        done="巾帼志愿者带蛋糕上门，陪老人过了生日。",
    ),
    W(
        "医疗健康",
        "代购降压药送药上门",
        "每月要去药房买降压药，最近腿疼走不动，希望有人帮忙买了送来。",
        end="completed",
        age=0.6,
        by="V",
        hours=1,
        app=True,
        done="志愿者代购降压药送到家，核对了药名和用量。",
    ),
    # ---- in progress (实施中)
    W(
        "助残",
        "盲人家庭需要读报",
        "视力残疾，一个人在家，想请志愿者每周来读读报纸，帮忙看看水电费单子。",
        end="in_progress",
        age=12,
        by="MU001",
        hours=1.5,
    ),
    W(
        "生活服务",
        "独居老人搬家帮忙",
        "要搬到女儿家附近的小区，东西多，自己搬不动。",
        end="in_progress",
        age=2,
        by="MU001",
        wanted_in=6,
    ),
    W(
        "医疗健康",
        "膝关节置换术后康复指导",
        "上个月做了膝关节置换，想请康复师上门指导怎么锻炼。",
        end="in_progress",
        age=19,
        by="MU011",
    ),
    W(
        "就业",
        "想参加育婴师培训",
        "孩子上幼儿园了，想学育婴师，出去找份工作。",
        end="in_progress",
        age=26,
        by="MU009",
        first="MU002",
        twist="withdraw",
        app=True,
    ),
    # ---- claimed (已认领), not started yet
    W(
        "助学",
        "初二孩子英语跟不上",
        "孩子上初二，英语成绩跟不上，家里请不起家教，希望周末有人辅导。",
        end="claimed",
        age=1,
        by="MU001",
        wanted_in=30,
    ),
    W(
        "医疗健康",
        "老伴走后情绪低落，想有人聊聊",
        "老伴上个月去世，一直睡不好，不想出门，希望有人能来家里聊聊天。",
        end="claimed",
        age=2,
        by="MU001",
        directed=("MU001", "MU021"),
        privacy=True,
    ),
    W(
        "生活服务",
        "卫生间的灯坏了",
        "卫生间的灯坏了，自己年纪大爬不了梯子，想请人帮忙换个灯。",
        end="claimed",
        age=3,
        by="V",
        value=30,
        app=True,
    ),
    # ---- published (派单): on the wall, or offered to chosen units
    W(
        "助老",
        "卫生间和床边想装扶手",
        "晚上起夜怕滑倒，想在卫生间和床边装几个扶手。",
        end="published",
        age=1,
        value=200,
        photo=True,
    ),
    W(
        "助困",
        "冰箱坏了，想要一台二手冰箱",
        "冰箱用了十几年坏了，家里困难买不起新的，二手的也行。",
        end="published",
        age=5,
        value=800,
    ),
    W(
        "助学",
        "孩子上网课想要一台旧电脑",
        "孩子上网课只能用我的手机，想要一台能上网课的旧电脑。",
        end="published",
        age=16,
        value=800,
        app=True,
        privacy=True,
    ),
    W(
        "就业",
        "女儿大专毕业，想找会计工作",
        "女儿今年大专毕业，学会计的，想请社区帮忙推荐实习或工作。",
        end="published",
        age=24,
        wanted_in=45,
    ),
    W(
        "其他",
        "不会在手机上办个税汇算",
        "退休后在外面兼职有收入，不会在手机上办个税年度汇算，想请人教一教。",
        end="published",
        age=2,
        directed=("MU001",),
        app=True,
    ),
    W(
        "就业",
        "想在菜场边摆个修鞋摊",
        "会修鞋配钥匙，想在菜场边上摆个摊，不知道怎么申请。",
        end="published",
        age=9,
        directed=("MU003", "MU024"),
    ),
    W(
        "其他",
        "孙子户口迁移不清楚流程",
        "孙子要把户口迁到我这里上学，不清楚要准备哪些材料。",
        end="published",
        age=13,
        directed=("MU002",),
        wanted_in=20,
    ),
    # ---- approved (审核通过), waiting to be published
    W(
        "助残",
        "想换一副四脚拐杖",
        "腿有残疾，原来的拐杖断了，想换一副四脚拐杖。",
        end="approved",
        age=0.5,
        value=150,
    ),
    W(
        "助困",
        "丈夫住院，想要些米面油",
        "丈夫住院两个月了，家里收入少，希望能得到一些米面油。",
        end="approved",
        age=1,
        value=200,
        app=True,
    ),
    # ---- submitted (点单), waiting for review
    W(
        "生活服务",
        "洗衣机漏水",
        "洗衣机一用就漏水，地上全是水，想请师傅看看。",
        end="submitted",
        age=0.2,
        value=50,
        app=True,
        photo=True,
    ),
    W(
        "助老",
        "希望能送餐上门",
        "一个人住，做饭不方便，希望助餐点每周能送两三次饭。",
        end="submitted",
        age=0.8,
        app=True,
    ),
    W(
        "就业",
        "想学电商客服在家就业",
        "肢体残疾，出门不便，想学电商客服之类能在家做的工作。",
        end="submitted",
        age=1.5,
    ),
    # ---- rejected (审核不通过)
    W(
        "助困",
        "希望社区帮忙申请廉租房",
        "租房子住，房租太贵，想申请廉租房。",
        end="rejected",
        age=60,
        note="住房保障申请不属于微心愿范围，已引导到街道住房保障窗口办理。",
    ),
    W(
        "其他",
        "想要一部新手机",
        "手机用了好几年，想换一部最新款的手机。",
        end="rejected",
        age=25,
        value=5000,
        note="心愿价值超出微心愿标准（一般不超过 1000 元），请调整后重新提交。",
    ),
    # ---- cancelled (已取消)
    W(
        "助老",
        "想要一台助行器",
        "走路不稳，想要一台带轮子的助行器。",
        end="cancelled",
        age=90,
        note="老人已入住龙锦颐养院，院方配备助行器，经家属同意取消。",
    ),
    W(
        "生活服务",
        "电视机没有信号",
        "电视机突然没有信号了，看不了新闻。",
        end="cancelled",
        age=40,
        app=True,
        note="女儿已帮忙弄好了，谢谢。",
    ),
    W(
        "助困",
        "电饭煲坏了",
        "电饭煲坏了，煮不了饭。",
        end="cancelled",
        age=14,
        by="MU027",
        value=100,
        app=True,
        note="已自己买了一个，不用了。",
    ),
)

CLOSE_NOTES = ("居民满意，销单。", "回访满意，销单。", "已电话回访，销单。", None)
CONFIRM_NOTES = ("很满意，谢谢志愿者！", "服务很好。", "谢谢社区和志愿者。", None)
APPROVE_NOTES = ("情况属实，同意。", "已电话核实。", None, None)
DISPUTE_NOTE = "换了电池还是走不远，请再看看。"
WITHDRAW_NOTE = "单位近期专项工作人手紧张，退回心愿墙由其他单位认领。"
