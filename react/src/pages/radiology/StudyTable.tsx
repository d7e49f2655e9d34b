import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { modalityText } from "../../api/radiology";
import type { Study } from "../../api/types";
import { DataTable } from "../../components/DataTable";
import type { Column } from "../../components/DataTable";
import { StatusBadge } from "../../components/StatusBadge";

const studyPath = (study: Study) => `/radiology/studies/${study.id}`;

export function StudyTable({ studies, showPatient = true }: { studies: Study[]; showPatient?: boolean }) {
  const { t } = useTranslation();
  const columns: (Column<Study> | false)[] = [
    { key: "date", header: "radiology.studyDate", link: studyPath, cell: (study) => study.study_date ?? t("radiology.noDate") },
    showPatient && {
      key: "patient",
      header: "radiology.patient",
      cell: (study) => (study.patient ? <Link to={`/patients/${study.patient}`}>{study.dicom_patient_id || study.patient}</Link> : study.dicom_patient_id),
    },
    { key: "modality", header: "radiology.modality", cell: (study) => modalityText(study.modality) },
    { key: "description", header: "radiology.description", link: studyPath, cell: (study) => study.description || study.accession_number || study.study_instance_uid },
    { key: "counts", header: "radiology.seriesInstances", cell: (study) => `${study.number_of_series} / ${study.number_of_instances}` },
    { key: "status", header: "radiology.status", cell: (study) => <StatusBadge value={study.status} /> },
    { key: "source", header: "radiology.source", cell: (study) => t(`radiology.sources.${study.source}`, { defaultValue: study.source }) },
  ];
  return <DataTable striped highlightOnHover fz="sm" columns={columns} rows={studies} rowKey={(study) => study.id} empty="radiology.noStudies" />;
}
