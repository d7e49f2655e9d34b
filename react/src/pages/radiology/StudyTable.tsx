import { Table, Text } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import type { Study } from "../../api/types";
import { StatusBadge } from "../../components/StatusBadge";

export function StudyTable({ studies, showPatient = true }: { studies: Study[]; showPatient?: boolean }) {
  const { t } = useTranslation();
  if (!studies.length) return <Text c="dimmed">{t("radiology.noStudies")}</Text>;
  return (
    <Table striped highlightOnHover fz="sm">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>{t("radiology.studyDate")}</Table.Th>
          {showPatient && <Table.Th>{t("radiology.patient")}</Table.Th>}
          <Table.Th>{t("radiology.modality")}</Table.Th>
          <Table.Th>{t("radiology.description")}</Table.Th>
          <Table.Th>{t("radiology.seriesInstances")}</Table.Th>
          <Table.Th>{t("radiology.status")}</Table.Th>
          <Table.Th>{t("radiology.source")}</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {studies.map((study) => (
          <Table.Tr key={study.id}>
            <Table.Td>
              <Link to={`/radiology/studies/${study.id}`}>{study.study_date ?? t("radiology.noDate")}</Link>
            </Table.Td>
            {showPatient && (
              <Table.Td>
                {study.patient ? <Link to={`/patients/${study.patient}`}>{study.dicom_patient_id || study.patient}</Link> : study.dicom_patient_id}
              </Table.Td>
            )}
            <Table.Td>{study.modality.split("\\").join(", ")}</Table.Td>
            <Table.Td>
              <Link to={`/radiology/studies/${study.id}`}>{study.description || study.accession_number || study.study_instance_uid}</Link>
            </Table.Td>
            <Table.Td>
              {study.number_of_series} / {study.number_of_instances}
            </Table.Td>
            <Table.Td>
              <StatusBadge value={study.status} />
            </Table.Td>
            <Table.Td>{t(`radiology.sources.${study.source}`, { defaultValue: study.source })}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}
