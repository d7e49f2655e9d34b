"""Synthetic, deterministic OpenEMR records for the stand-in: patients with Korean and English names,
their encounters, vitals, problem lists (brain tumours among common conditions), medications,
prescriptions and allergies. Same seed, same records, same UUIDs: tests can rely on them.

Every value is a string, as OpenEMR returns MySQL rows; vitals use OpenEMR's US units (lb, in, °F).
All people, addresses and phone numbers are invented (phone numbers in the fictional 555-01xx range,
e-mail at example.org).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from ..common import words

KOREAN_FAMILY = words("김 이 박 최 정 강 조 윤 장 임 한 오 서 신 권 황 안 송 류 홍")
KOREAN_GIVEN = {
    "Male": words("민준 서준 도윤 예준 시우 하준 주원 지호 준우 현우 성민 영호 정훈 동현"),
    "Female": words("서연 서윤 지우 하은 민서 지민 수빈 예은 은지 미영 혜진 영숙 순자 지영"),
}
ENGLISH_FAMILY = words(
    "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Moore Martin Clark Lewis"
)
ENGLISH_GIVEN = {
    "Male": words("James Robert Michael David William Daniel Thomas Andrew Joseph Samuel"),
    "Female": words("Mary Patricia Jennifer Linda Elizabeth Susan Emily Sarah Grace Hannah"),
}
KOREAN_PLACES = [  # (street, city, state, postal code)
    ("Sejong-daero", "Seoul", "Seoul", "04524"),
    ("Teheran-ro", "Seoul", "Seoul", "06234"),
    ("Jungang-daero", "Busan", "Busan", "48939"),
    ("Dongdeok-ro", "Daegu", "Daegu", "41940"),
    ("Dunsan-ro", "Daejeon", "Daejeon", "35242"),
    ("Gyeongin-ro", "Incheon", "Incheon", "22161"),
]
ENGLISH_PLACES = [
    ("Maple Avenue", "Boston", "MA", "02115"),
    ("Oak Street", "Seattle", "WA", "98101"),
    ("Congress Avenue", "Austin", "TX", "78701"),
    ("Larimer Street", "Denver", "CO", "80202"),
    ("State Street", "Madison", "WI", "53703"),
]
FACILITIES = {"KR": ("Hanbit University Hospital", "3"), "US": ("Riverside Neuro-Oncology Center", "4")}

# (problem title, ICD-10 code, medication key or None)
BRAIN_TUMOURS = [
    ("Glioblastoma, IDH-wildtype, left frontal lobe", "C71.1", "temozolomide"),
    ("Anaplastic astrocytoma, right temporal lobe", "C71.2", "temozolomide"),
    ("Oligodendroglioma, parietal lobe", "C71.3", "temozolomide"),
    ("Malignant neoplasm of occipital lobe", "C71.4", "dexamethasone"),
    ("Ependymoma of cerebral ventricle", "C71.5", "dexamethasone"),
    ("Medulloblastoma of cerebellum", "C71.6", "ondansetron"),
    ("Diffuse midline glioma of brain stem", "C71.7", "dexamethasone"),
    ("Malignant glioma, overlapping sites of brain", "C71.8", "temozolomide"),
    ("Malignant neoplasm of brain, unspecified", "C71.9", "dexamethasone"),
    ("Malignant neoplasm of cerebrum, except lobes and ventricles", "C71.0", "temozolomide"),
    ("Benign neoplasm of brain, supratentorial", "D33.0", None),
    ("Cerebellar haemangioblastoma", "D33.1", None),
    ("Benign neoplasm of brain, unspecified", "D33.2", None),
    ("Vestibular schwannoma", "D33.3", None),
    ("Low-grade glioma, supratentorial, uncertain behaviour", "D43.0", "levetiracetam"),
    ("Neoplasm of uncertain behaviour of brain, infratentorial", "D43.1", None),
    ("Brain lesion of uncertain behaviour, unspecified", "D43.2", "levetiracetam"),
]
COMMON_PROBLEMS = [
    ("Essential hypertension", "I10", "amlodipine"),
    ("Type 2 diabetes mellitus without complications", "E11.9", "metformin"),
    ("Hyperlipidaemia, unspecified", "E78.5", "atorvastatin"),
    ("Epilepsy, unspecified", "G40.909", "levetiracetam"),
    ("Headache, unspecified", "R51.9", "acetaminophen"),
    ("Asthma, unspecified", "J45.909", "albuterol"),
    ("Gastro-oesophageal reflux disease without oesophagitis", "K21.9", "omeprazole"),
    ("Major depressive disorder, single episode", "F32.9", "sertraline"),
    ("Hypothyroidism, unspecified", "E03.9", "levothyroxine"),
    ("Chronic kidney disease, stage 3 unspecified", "N18.30", None),
]
# key -> (title, RxNorm ingredient code, dosage, route, interval)
DRUGS = {
    "temozolomide": ("Temozolomide 140 mg capsule", "37776", "140 mg", "oral", "daily"),
    "dexamethasone": ("Dexamethasone 4 mg tablet", "3264", "4 mg", "oral", "twice daily"),
    "levetiracetam": ("Levetiracetam 500 mg tablet", "114477", "500 mg", "oral", "twice daily"),
    "ondansetron": ("Ondansetron 8 mg tablet", "26225", "8 mg", "oral", "as needed"),
    "amlodipine": ("Amlodipine 5 mg tablet", "17767", "5 mg", "oral", "daily"),
    "metformin": ("Metformin 500 mg tablet", "6809", "500 mg", "oral", "twice daily"),
    "atorvastatin": ("Atorvastatin 20 mg tablet", "83367", "20 mg", "oral", "at bedtime"),
    "acetaminophen": ("Acetaminophen 500 mg tablet", "161", "500 mg", "oral", "as needed"),
    "albuterol": ("Albuterol 90 mcg inhaler", "435", "2 puffs", "inhalation", "as needed"),
    "omeprazole": ("Omeprazole 20 mg capsule", "7646", "20 mg", "oral", "daily"),
    "sertraline": ("Sertraline 50 mg tablet", "36437", "50 mg", "oral", "daily"),
    "levothyroxine": ("Levothyroxine 50 mcg tablet", "10582", "50 mcg", "oral", "daily"),
}
ALLERGIES = ["Penicillin", "Sulfonamides", "Iodinated contrast media", "Gadolinium contrast", "Latex", "Peanuts"]
VISIT_REASONS = {
    "tumour": [
        "New headache and visual disturbance",
        "MRI brain review",
        "Post-operative review after craniotomy",
        "Chemoradiotherapy follow-up",
        "Seizure follow-up",
        "Multidisciplinary tumour board follow-up",
    ],
    "general": ["Annual check-up", "Hypertension follow-up", "Medication review", "Acute headache", "Fatigue"],
}
TODAY = date(2026, 1, 15)  # fixed, so the records do not depend on when they were generated


@dataclass
class Records:
    """Everything seeded, in insertion order per kind."""

    patients: list[dict] = field(default_factory=list)
    encounters: list[dict] = field(default_factory=list)
    vitals: list[dict] = field(default_factory=list)
    lists: list[dict] = field(default_factory=list)  # medical_problem, medication and allergy entries
    prescriptions: list[dict] = field(default_factory=list)


def synthetic_records(seed: int, patient_count: int) -> Records:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not secrets
    out = Records()
    counters = {"encounter": 0, "vital": 0, "list": 0, "prescription": 0}

    def next_id(kind: str) -> str:
        counters[kind] += 1
        return str(counters[kind])

    def new_uuid() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    for pid in range(1, patient_count + 1):
        patient = _patient(rng, pid, new_uuid())
        out.patients.append(patient)
        has_tumour = rng.random() < 0.45
        problems = [rng.choice(BRAIN_TUMOURS)] if has_tumour else []
        problems += rng.sample(COMMON_PROBLEMS, rng.randint(0 if has_tumour else 1, 2))
        visit_dates = sorted(TODAY - timedelta(days=rng.randint(1, 900)) for _ in range(rng.randint(1, 4)))
        onset = visit_dates[0] - timedelta(days=rng.randint(0, 60))
        country = patient["country_code"]
        for visit in visit_dates:
            encounter = _encounter(rng, next_id("encounter"), new_uuid(), patient, visit, has_tumour, country)
            out.encounters.append(encounter)
            out.vitals.append(_vital(rng, next_id("vital"), new_uuid(), patient, encounter))
        for title, code, drug in problems:
            entry = _list_entry(next_id("list"), new_uuid(), patient, "medical_problem", title, onset)
            out.lists.append({**entry, "diagnosis": f"ICD10:{code}"})
            if drug:
                name, rxnorm, dosage, route, interval = DRUGS[drug]
                out.lists.append(_list_entry(next_id("list"), new_uuid(), patient, "medication", name, onset))
                out.prescriptions.append(
                    {
                        "id": next_id("prescription"),
                        "uuid": new_uuid(),
                        "patient_id": patient["pid"],
                        "drug": name,
                        "rxnorm_drugcode": rxnorm,
                        "dosage": dosage,
                        "quantity": str(rng.choice([14, 28, 30, 60, 90])),
                        "refills": str(rng.randint(0, 3)),
                        "route": route,
                        "interval": interval,
                        "start_date": onset.isoformat(),
                        "end_date": None,
                        "date_added": f"{onset.isoformat()} 09:00:00",
                        "active": "1",
                        "provider_id": "1",
                        "encounter": encounter["encounter"],
                        "note": "",
                    }
                )
        for allergy in rng.sample(ALLERGIES, rng.choice([0, 0, 1, 2])):
            out.lists.append(_list_entry(next_id("list"), new_uuid(), patient, "allergy", allergy, onset))
    return out


def _patient(rng: random.Random, pid: int, patient_uuid: str) -> dict:
    sex = rng.choice(["Male", "Female"])
    korean = rng.random() < 0.55
    if korean:
        fname, lname = rng.choice(KOREAN_GIVEN[sex]), rng.choice(KOREAN_FAMILY)
        street, city, state, postal = rng.choice(KOREAN_PLACES)
        phone, country, title = f"010-{rng.randint(2000, 9999)}-{rng.randint(1000, 9999)}", "KR", ""
        street = f"{rng.randint(1, 300)} {street}"
    else:
        fname, lname = rng.choice(ENGLISH_GIVEN[sex]), rng.choice(ENGLISH_FAMILY)
        street, city, state, postal = rng.choice(ENGLISH_PLACES)
        phone, country = f"{rng.choice(['617', '206', '512', '303', '608'])}-555-01{rng.randint(0, 99):02d}", "US"
        title = "Mr" if sex == "Male" else rng.choice(["Ms", "Mrs"])
        street = f"{rng.randint(10, 9999)} {street}"
    born = date(1940, 1, 1) + timedelta(days=rng.randint(0, 365 * 75))
    return {
        "id": str(pid + 100),  # the patient_data row id; differs from pid on purpose, as on real servers
        "pid": str(pid),
        "uuid": patient_uuid,
        "pubpid": f"MRN{100000 + pid}",
        "title": title,
        "fname": fname,
        "mname": "",
        "lname": lname,
        "ss": "",
        "street": street,
        "postal_code": postal,
        "city": city,
        "state": state,
        "county": "",
        "country_code": country,
        "drivers_license": "",
        "contact_relationship": "",
        "phone_contact": "",
        "phone_home": phone,
        "phone_biz": "",
        "phone_cell": phone,
        "email": f"patient{pid:03d}@example.org",
        "DOB": born.isoformat(),
        "sex": sex,
        "race": "",
        "ethnicity": "",
        "status": "",
        "date": "2026-01-15 08:00:00",  # patient_data.date: the row's last update
    }


def _encounter(
    rng: random.Random, number: str, encounter_uuid: str, patient: dict, visit: date, tumour: bool, country: str
) -> dict:
    facility, facility_id = FACILITIES[country]
    return {
        "id": number,  # form_encounter.id; kept equal to `encounter`, as in demo data (CONTRACTS.md B.6)
        "uuid": encounter_uuid,
        "date": f"{visit.isoformat()} {rng.randint(8, 17):02d}:{rng.choice(['00', '15', '30', '45'])}:00",
        "reason": rng.choice(VISIT_REASONS["tumour" if tumour else "general"]),
        "facility": facility,
        "facility_id": facility_id,
        "pid": patient["pid"],
        "encounter": number,
        "onset_date": "",
        "sensitivity": "normal",
        "billing_note": "",
        "pc_catid": "5",
        "pc_catname": "Office Visit",
        "provider_id": "1",
        "supervisor_id": "0",
        "referral_source": "",
        "billing_facility": facility_id,
        "billing_facility_name": facility,
        "external_id": "",
        "pos_code": "0",
        "class_code": "AMB",
        "class_title": "ambulatory",
    }


def _vital(rng: random.Random, vital_id: str, vital_uuid: str, patient: dict, encounter: dict) -> dict:
    height_in = rng.uniform(58, 76)
    weight_lb = rng.uniform(100, 240)
    bmi = 703 * weight_lb / height_in**2
    status = "Underweight" if bmi < 18.5 else "Normal" if bmi < 25 else "Overweight" if bmi < 30 else "Obesity"
    return {
        "id": vital_id,
        "uuid": vital_uuid,
        "date": encounter["date"],
        "pid": patient["pid"],
        "eid": encounter["encounter"],
        "bps": str(rng.randint(100, 165)),
        "bpd": str(rng.randint(60, 98)),
        "weight": f"{weight_lb:.1f}",
        "height": f"{height_in:.1f}",
        "temperature": f"{rng.uniform(97.0, 100.4):.1f}",
        "temp_method": "Oral",
        "pulse": str(rng.randint(55, 105)),
        "respiration": str(rng.randint(12, 20)),
        "note": "",
        "BMI": f"{bmi:.1f}",
        "BMI_status": status,
        "waist_circ": "",
        "head_circ": "",
        "oxygen_saturation": str(rng.randint(94, 100)),
    }


def _list_entry(entry_id: str, entry_uuid: str, patient: dict, kind: str, title: str, begdate: date) -> dict:
    return {
        "id": entry_id,
        "uuid": entry_uuid,
        "type": kind,
        "title": title,
        "begdate": begdate.isoformat(),
        "enddate": None,
        "diagnosis": "",
        "pid": patient["pid"],
        "puuid": patient["uuid"],
    }


def records_by_kind(records: Records) -> Iterator[tuple[str, dict]]:
    """(kind, row) pairs in the order the store should insert them."""
    yield from (("patient", row) for row in records.patients)
    yield from (("encounter", row) for row in records.encounters)
    yield from (("vital", row) for row in records.vitals)
    yield from ((row["type"], row) for row in records.lists)
    yield from (("prescription", row) for row in records.prescriptions)
