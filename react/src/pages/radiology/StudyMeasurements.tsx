import { Card, Table, Text, Title } from "@mantine/core";
import { useTranslation } from "react-i18next";

import { useMeasurements } from "../../api/radiology";
import { QueryState } from "../../components/QueryState";
import { measurementText } from "../../viewer/measurementText";

/** The study's saved measurements (DICOM SR in the PACS): who measured, when, what, on which image. */
export function StudyMeasurements({ studyId }: { studyId: number }) {
  const { t } = useTranslation();
  const reports = useMeasurements(studyId);
  return (
    <Card withBorder data-testid="study-measurements">
      <Title order={5} mb="xs">
        {t("radiology.measurements")}
      </Title>
      <QueryState query={reports}>
        {(data) =>
          data.length === 0 ? (
            <Text size="sm" c="dimmed">
              {t("radiology.noMeasurements")}
            </Text>
          ) : (
            <Table striped>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>{t("radiology.measuredBy")}</Table.Th>
                  <Table.Th>{t("radiology.measuredAt")}</Table.Th>
                  <Table.Th>{t("radiology.measurement")}</Table.Th>
                  <Table.Th>{t("radiology.measuredValue")}</Table.Th>
                  <Table.Th>{t("radiology.measuredImage")}</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {data.flatMap((report) =>
                  report.measurements.map((item) => (
                    <Table.Tr key={`${report.sop_instance_uid}-${item.tracking_uid}`}>
                      <Table.Td>{report.observer || report.observer_login}</Table.Td>
                      <Table.Td>{report.created_at ? report.created_at.replace("T", " ") : "—"}</Table.Td>
                      <Table.Td>
                        {t(`viewer.${item.kind}`)}
                        {item.label ? ` · ${item.label}` : ""}
                      </Table.Td>
                      <Table.Td>{measurementText(item, t("radiology.mean"))}</Table.Td>
                      <Table.Td>
                        <Text size="xs" ff="monospace">
                          {item.sop_instance_uid}
                          {item.frame ? ` #${item.frame}` : ""}
                        </Text>
                      </Table.Td>
                    </Table.Tr>
                  )),
                )}
              </Table.Tbody>
            </Table>
          )
        }
      </QueryState>
    </Card>
  );
}
