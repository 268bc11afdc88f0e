"""The demo hospital: `hospital seed-demo` creates it, and running it again adds nothing twice.

Each concern is one small function, called in order by `seed_demo`; every row is looked up by
its code, username, phone or identity number before it is created. A domain package adds its
demo data the same way: one more function (e.g. schedules), called at the end of `seed_demo`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext

from consult.demo import seed_consultations
from hospital.accounts.models import Account, AccountRole, Device, DeviceKind, Language, Role
from hospital.accounts.passwords import hash_password
from hospital.accounts.services import devices, staff
from hospital.billing.demo import seed_fees, seed_insurance
from hospital.cards.demo import seed_card
from hospital.db import db, utcnow
from hospital.guide.demo_map import seed_map
from hospital.organisation import service as organisation_service
from hospital.organisation.models import (
    Clinician,
    ClinicianTitle,
    Department,
    Hospital,
    ServicePoint,
    ServicePointKind,
)
from hospital.patients.identity import resident_id_check_char
from hospital.patients.models import FamilyLink, IdentityType, Patient
from hospital.patients.services import adding
from hospital.unit_of_work import unit_of_work
from queueing.demo import PastWork, seed_past_month, seed_queues
from reports.demo import record_past_work, seed_test_types
from scheduling.demo import seed_schedules

HOSPITAL_CODE = "DEMO"
PASSWORD = "demo1234"
KIOSK_TOKEN = "demo-kiosk-token"
BOARD_TOKEN = "demo-board-token"

# code, 中文, English, floor, description zh, description en
# fmt: off
DEPARTMENTS = [
    ("NK", "内科", "Internal Medicine", "2", "成人常见病、慢性病诊治", "Adult illness and chronic conditions"),
    ("WK", "外科", "Surgery", "3", "普通外科门诊与术后复查", "General surgery clinic and follow-ups"),
    ("EK", "儿科", "Paediatrics", "2", "14岁以下儿童就诊", "Children under 14"),
    ("FCK", "妇产科", "Obstetrics & Gynaecology", "4", "妇科、产科与孕期检查", "Gynaecology, obstetrics and antenatal care"),
    ("YK", "眼科", "Ophthalmology", "5", "视力、眼病诊治", "Eyesight and eye diseases"),
    ("PFK", "皮肤科", "Dermatology", "5", "皮肤病与过敏", "Skin conditions and allergies"),
    ("JYK", "检验科", "Laboratory", "1", "抽血与化验", "Blood draws and laboratory tests"),
    # Open around the clock, so check-in, the kiosk and the queue can be tried at any hour.
    ("JZ", "急诊发热门诊", "Emergency & fever clinic", "1", "24小时开放：发热与急症", "Open 24 hours: fever and urgent illness"),
]
# fmt: on

T = ClinicianTitle
# department code -> (中文名, English name, title, specialty zh, specialty en)
# fmt: off
CLINICIANS = {
    "NK": [
        ("王建国", "Wang Jianguo", T.CHIEF_PHYSICIAN, "高血压、冠心病", "Hypertension, coronary disease"),
        ("李淑芬", "Li Shufen", T.ASSOCIATE_CHIEF_PHYSICIAN, "糖尿病、甲状腺疾病", "Diabetes, thyroid disease"),
        ("陈志强", "Chen Zhiqiang", T.ATTENDING_PHYSICIAN, "呼吸系统疾病", "Respiratory disease"),
        ("赵丽华", "Zhao Lihua", T.RESIDENT_PHYSICIAN, "内科常见病", "General internal medicine"),
    ],
    "WK": [
        ("刘德明", "Liu Deming", T.CHIEF_PHYSICIAN, "胃肠外科", "Gastrointestinal surgery"),
        ("孙海涛", "Sun Haitao", T.ASSOCIATE_CHIEF_PHYSICIAN, "骨科、运动损伤", "Orthopaedics, sports injuries"),
        ("周晓东", "Zhou Xiaodong", T.ATTENDING_PHYSICIAN, "外伤处理、术后换药", "Wound care, post-operative dressing"),
    ],
    "EK": [
        ("吴静", "Wu Jing", T.CHIEF_PHYSICIAN, "小儿呼吸、哮喘", "Childhood respiratory illness, asthma"),
        ("郑雪梅", "Zheng Xuemei", T.ATTENDING_PHYSICIAN, "儿童保健、疫苗咨询", "Child health, vaccination advice"),
        ("黄小明", "Huang Xiaoming", T.RESIDENT_PHYSICIAN, "儿科常见病", "General paediatrics"),
    ],
    "FCK": [
        ("何玉兰", "He Yulan", T.CHIEF_PHYSICIAN, "高危妊娠", "High-risk pregnancy"),
        ("林佳慧", "Lin Jiahui", T.ASSOCIATE_CHIEF_PHYSICIAN, "妇科内分泌", "Gynaecological endocrinology"),
        ("马秀英", "Ma Xiuying", T.ATTENDING_PHYSICIAN, "孕期检查", "Antenatal check-ups"),
    ],
    "YK": [
        ("高明远", "Gao Mingyuan", T.CHIEF_PHYSICIAN, "白内障、青光眼", "Cataract, glaucoma"),
        ("罗晓燕", "Luo Xiaoyan", T.ATTENDING_PHYSICIAN, "儿童近视", "Childhood myopia"),
        ("梁志伟", "Liang Zhiwei", T.RESIDENT_PHYSICIAN, "眼科常见病", "General ophthalmology"),
    ],
    "PFK": [
        ("宋雅琴", "Song Yaqin", T.ASSOCIATE_CHIEF_PHYSICIAN, "湿疹、皮炎", "Eczema, dermatitis"),
        ("谢文博", "Xie Wenbo", T.ATTENDING_PHYSICIAN, "痤疮、皮肤过敏", "Acne, skin allergies"),
        ("韩冬梅", "Han Dongmei", T.RESIDENT_PHYSICIAN, "皮肤科常见病", "General dermatology"),
    ],
    "JYK": [
        ("唐志刚", "Tang Zhigang", T.TECHNICIAN, "临床检验", "Clinical laboratory"),
        ("冯丽娟", "Feng Lijuan", T.TECHNICIAN, "采血与生化检验", "Blood draws and biochemistry"),
    ],
    "JZ": [
        ("钱卫东", "Qian Weidong", T.ATTENDING_PHYSICIAN, "急诊、发热", "Emergency and fever"),
        ("许婷", "Xu Ting", T.RESIDENT_PHYSICIAN, "急诊常见病", "General emergency care"),
    ],
}
# fmt: on

# code, kind, 中文, English, building, floor, room, department code, directions zh, directions en
# fmt: off
COUNTERS = [
    ("REG-1", ServicePointKind.REGISTRATION_DESK, "挂号处", "Registration desk", "A", "1", "101", None, "门诊楼A座1楼大厅，正门进入左手边。", "Outpatient Building A, ground floor hall: on the left as you enter."),
    ("CASH-1", ServicePointKind.CASHIER, "收费处1号窗口", "Cashier window 1", "A", "1", "105", None, "门诊楼A座1楼大厅，挂号处右侧。", "Outpatient Building A, ground floor hall: right of the registration desk."),
    ("CASH-2", ServicePointKind.CASHIER, "收费处2号窗口", "Cashier window 2", "A", "1", "106", None, "门诊楼A座1楼大厅，挂号处右侧。", "Outpatient Building A, ground floor hall: right of the registration desk."),
    ("LAB-1", ServicePointKind.LAB_DRAW, "采血室", "Blood draw room", "A", "1", "120", "JYK", "门诊楼A座1楼，沿黄色指示线走到走廊尽头。", "Outpatient Building A, ground floor: follow the yellow line to the end of the corridor."),
    ("PHARM-1", ServicePointKind.PHARMACY, "西药房", "Pharmacy", "A", "1", "130", None, "门诊楼A座1楼，收费处对面。", "Outpatient Building A, ground floor: opposite the cashier."),
    ("IMG-1", ServicePointKind.IMAGING, "放射科影像检查室", "Imaging (X-ray and CT)", "B", "1", "108", None, "医技楼B座1楼，从A座1楼连廊步行约2分钟。", "Medical Technology Building B, ground floor: 2 minutes along the link corridor from Building A."),
]
# fmt: on

# username, role, display name
STAFF = [
    ("registrar", Role.REGISTRAR, "挂号员 周敏"),
    ("nurse", Role.NURSE, "护士 孙丽"),
    ("doctor", Role.CLINICIAN, "王建国"),
    ("cashier", Role.CASHIER, "收费员 钱红"),
    ("lab", Role.LAB, "检验师 唐志刚"),
    ("admin", Role.ADMIN, "管理员 郭强"),
]
DOCTOR_CLINICIAN = ("NK", "王建国")


@dataclass(frozen=True)
class DemoPatient:
    relationship: str
    name: str
    sex: str
    birth_date: date
    serial: int
    phone: str | None


# phone of the account -> the patients it acts for (its own profile first)
PATIENT_ACCOUNTS = {
    "13800000001": (
        "李梅",
        [
            DemoPatient("self", "李梅", "female", date(1978, 5, 12), 12, "13800000001"),
            # Her father has no phone: he exists only as a patient she acts for.
            DemoPatient("parent", "李建华", "male", date(1948, 9, 3), 31, None),
            DemoPatient("child", "王小雨", "female", date(2016, 7, 21), 42, None),
        ],
    ),
    "13800000002": (
        "张伟",
        [DemoPatient("self", "张伟", "male", date(1985, 11, 2), 25, "13800000002")],
    ),
}


def demo_resident_id(birth: date, serial: int, sex: str) -> str:
    """A valid resident ID (Beijing Chaoyang) for a demo person; real people never get these."""
    sex_digit = 1 if sex == "male" else 2  # odd for men, even for women
    first17 = f"110105{birth:%Y%m%d}{serial:02d}{sex_digit}"
    return first17 + resident_id_check_char(first17)


def seed_hospital(*, now: datetime) -> Hospital:
    hospital = db.session.scalar(sa.select(Hospital).where(Hospital.code == HOSPITAL_CODE))
    if hospital is not None:
        return hospital
    return organisation_service.create_hospital(
        code=HOSPITAL_CODE,
        name_zh="演示人民医院",
        name_en="Demo People's Hospital",
        timezone="Asia/Shanghai",
        address_zh="北京市朝阳区示范路1号",
        address_en="1 Shifan Road, Chaoyang District, Beijing",
        phone="010-12345678",
        opening_hours_zh="门诊 周一至周五 8:00–17:00；急诊发热门诊 24 小时",
        opening_hours_en="Clinics Mon–Fri 8:00–17:00; emergency & fever clinic 24 hours",
        now=now,
    )


def seed_departments(hospital: Hospital, *, now: datetime) -> dict[str, Department]:
    departments = {}
    for order, (code, name_zh, name_en, _floor, desc_zh, desc_en) in enumerate(DEPARTMENTS):
        department = db.session.scalar(
            sa.select(Department).where(
                Department.hospital_id == hospital.id, Department.code == code
            )
        )
        if department is None:
            department = organisation_service.create_department(
                actor=None,
                hospital=hospital,
                values={
                    "code": code,
                    "name_zh": name_zh,
                    "name_en": name_en,
                    "description_zh": desc_zh,
                    "description_en": desc_en,
                    "sort_order": order * 10,
                },
                now=now,
            )
        departments[code] = department
    return departments


def seed_clinicians(
    hospital: Hospital, departments: dict[str, Department], *, now: datetime
) -> dict[tuple[str, str], Clinician]:
    clinicians = {}
    for code, people in CLINICIANS.items():
        department = departments[code]
        for name_zh, name_en, title, specialty_zh, specialty_en in people:
            clinician = db.session.scalar(
                sa.select(Clinician).where(
                    Clinician.hospital_id == hospital.id,
                    Clinician.department_id == department.id,
                    Clinician.name_zh == name_zh,
                )
            )
            if clinician is None:
                clinician = organisation_service.create_clinician(
                    actor=None,
                    hospital=hospital,
                    values={
                        "department_id": department.id,
                        "name_zh": name_zh,
                        "name_en": name_en,
                        "title": title,
                        "specialty_zh": specialty_zh,
                        "specialty_en": specialty_en,
                    },
                    now=now,
                )
            clinicians[(code, name_zh)] = clinician
    return clinicians


def _service_point(
    hospital: Hospital, values: Mapping[str, object], *, now: datetime
) -> ServicePoint:
    point = db.session.scalar(
        sa.select(ServicePoint).where(
            ServicePoint.hospital_id == hospital.id, ServicePoint.code == values["code"]
        )
    )
    if point is None:
        point = organisation_service.create_service_point(
            actor=None, hospital=hospital, values=values, now=now
        )
    return point


def seed_consultation_rooms(
    hospital: Hospital, departments: dict[str, Department], *, now: datetime
) -> list[ServicePoint]:
    """One consultation room per clinician (the laboratory works at the blood-draw counter)."""
    rooms = []
    for code, name_zh, name_en, floor, _dz, _de in DEPARTMENTS:
        if code == "JYK":
            continue
        for n in range(1, len(CLINICIANS[code]) + 1):
            room = f"{floor}{list(CLINICIANS).index(code)}{n}"
            values = {
                "code": f"{code}-{n:02d}",
                "kind": ServicePointKind.CONSULTATION_ROOM,
                "department_id": departments[code].id,
                "name_zh": f"{name_zh}{n}诊室",
                "name_en": f"{name_en} room {n}",
                "building": "A",
                "floor": floor,
                "room": room,
                "directions_zh": f"门诊楼A座{floor}楼，出电梯右转，{name_zh}候诊区内{room}室。",
                "directions_en": (
                    f"Outpatient Building A, floor {floor}: turn right out of the lift; "
                    f"room {room} is in the {name_en} waiting area."
                ),
            }
            rooms.append(_service_point(hospital, values, now=now))
    return rooms


def seed_counters(
    hospital: Hospital, departments: dict[str, Department], *, now: datetime
) -> dict[str, ServicePoint]:
    counters = {}
    for code, kind, name_zh, name_en, building, floor, room, dept, dir_zh, dir_en in COUNTERS:
        values = {
            "code": code,
            "kind": kind,
            "department_id": departments[dept].id if dept else None,
            "name_zh": name_zh,
            "name_en": name_en,
            "building": building,
            "floor": floor,
            "room": room,
            "directions_zh": dir_zh,
            "directions_en": dir_en,
        }
        counters[code] = _service_point(hospital, values, now=now)
    return counters


def seed_staff(
    hospital: Hospital, clinicians: dict[tuple[str, str], Clinician], *, now: datetime
) -> None:
    for username, role, display_name in STAFF:
        account = db.session.scalar(
            sa.select(Account).where(
                Account.hospital_id == hospital.id, Account.username == username
            )
        )
        if account is None:
            account = staff.create_staff(
                hospital,
                username=username,
                password=PASSWORD,
                roles=[role],
                display_name=display_name,
                now=now,
            )
        if role is Role.CLINICIAN:
            clinician = clinicians[DOCTOR_CLINICIAN]
            if clinician.account_id is None:
                organisation_service.update_clinician(
                    actor=None,
                    hospital=hospital,
                    clinician_id=clinician.id,
                    changes={"account_id": account.id},
                    now=now,
                )


def _patient_account(
    hospital: Hospital, phone: str, display_name: str, *, now: datetime
) -> Account:
    account = db.session.scalar(
        sa.select(Account).where(Account.hospital_id == hospital.id, Account.phone == phone)
    )
    if account is None:
        # Real patients sign up with an SMS code; demo ones get a password to skip the SMS.
        account = Account(
            hospital_id=hospital.id,
            phone=phone,
            display_name=display_name,
            password_hash=hash_password(PASSWORD),
            language=Language.ZH,
            created_at=now,
        )
        account.role_rows = [AccountRole(role=Role.PATIENT, hospital_id=hospital.id)]
        db.session.add(account)
        db.session.flush()
    return account


def seed_patients(hospital: Hospital, *, now: datetime) -> None:
    for phone, (display_name, people) in PATIENT_ACCOUNTS.items():
        account = _patient_account(hospital, phone, display_name, now=now)
        for person in people:
            number = demo_resident_id(person.birth_date, person.serial, person.sex)
            linked = db.session.scalar(
                sa.select(FamilyLink.id)
                .join(Patient, Patient.id == FamilyLink.patient_id)
                .where(
                    FamilyLink.account_id == account.id,
                    Patient.id_type == IdentityType.RESIDENT_ID,
                    Patient.id_number == number,
                )
            )
            if linked is not None:
                continue
            adding.add_patient(
                account=account,
                relationship=person.relationship,
                name=person.name,
                sex=person.sex,
                birth_date=person.birth_date,
                id_type=IdentityType.RESIDENT_ID.value,
                id_number=number,
                phone=person.phone,
                now=now,
            )


def seed_devices(hospital: Hospital, *, now: datetime) -> None:
    """A kiosk and a display board with fixed tokens, so the README can list them."""
    for kind, name, location, token in (
        (
            DeviceKind.KIOSK,
            "大厅自助机 1 / Hall kiosk 1",
            "门诊楼A座1楼大厅 / Building A hall",
            KIOSK_TOKEN,
        ),
        (
            DeviceKind.DISPLAY_BOARD,
            "内科候诊屏 / Internal medicine board",
            "门诊楼A座2楼内科候诊区 / Building A, floor 2, internal medicine waiting area",
            BOARD_TOKEN,
        ),
    ):
        digest = devices.device_token_hash(token)
        if db.session.scalar(sa.select(Device.id).where(Device.token_hash == digest)) is not None:
            continue
        device, _random_token = devices.register_device(
            actor=None,
            kind=kind,
            name=name,
            location=location,
            service_point_id=None,
            now=now,
            hospital=hospital,
        )
        # Stored as SHA-256 like every device token; only the token itself is fixed for the demo.
        device.token_hash = digest
        db.session.flush()


def summary(public_url: str) -> str:
    """The addresses and demo logins, as printed after seeding (and listed in the README)."""
    base = public_url.rstrip("/")
    lines = [
        f"Demo hospital {HOSPITAL_CODE}: 演示人民医院 / Demo People's Hospital (Asia/Shanghai)",
        "",
        f"  Patient site      {base}/",
        f"  API docs          {base}/api/docs",
        f"  OpenAPI document  {base}/api/openapi.json",
        "",
        f"Patients (phone + password {PASSWORD}):",
        "  13800000001  李梅: herself, her father 李建华 (born 1948, no phone), her child 王小雨",
        "               (she shows his insurance code and her account pays for him: 家庭共济)",
        "  13800000002  张伟: himself",
        "",
        f"Staff (username + password {PASSWORD}):",
    ]
    lines += [f"  {username:<10}  {role.value:<10} {name}" for username, role, name in STAFF]
    lines += [
        "",
        "Devices (send `Authorization: Bearer <token>`):",
        f"  kiosk          {KIOSK_TOKEN}",
        f"  display board  {BOARD_TOKEN}",
    ]
    return "\n".join(lines)


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Create the demo hospital with departments, clinicians, staff, patients and devices."""
    now = utcnow()
    # One function per concern, in order; each creates only what is missing.
    with unit_of_work():
        hospital = seed_hospital(now=now)
        departments = seed_departments(hospital, now=now)
        clinicians = seed_clinicians(hospital, departments, now=now)
        seed_consultation_rooms(hospital, departments, now=now)
        seed_counters(hospital, departments, now=now)
        seed_map(hospital.id, now=now)  # guide: floor maps joining every service point
        seed_staff(hospital, clinicians, now=now)
        seed_patients(hospital, now=now)
        seed_card(hospital, now=now)  # cards: the father's patient card, carried by his daughter
        seed_devices(hospital, now=now)
        seed_fees(hospital)  # billing: registration fees (a kiosk walk-in pays the general one)
        seed_insurance(
            hospital, now=now
        )  # billing: the father's insurance code, his daughter's 家庭共济
        seed_schedules(hospital, now=now)  # scheduling: two weeks of sessions, some nearly full
        seed_queues(hospital, now=now)  # queueing: counters at every service point, today's queues
        # queueing: last month's queues and wait-range accuracy; its calls, pauses and survey
        # answers go to the statistics in bulk (productivity, heatmap, satisfaction)
        work = PastWork()
        seed_past_month(hospital, now=now, work=work)
        record_past_work(visits=work.visits, pauses=work.pauses, answers=work.answers)
        seed_test_types(hospital)  # reports: what lab intake offers, with release rules
        seed_consultations(hospital, now=now)  # consult: two doctors online, one answered question
    click.echo(summary(current_app.config["PUBLIC_URL"]))
