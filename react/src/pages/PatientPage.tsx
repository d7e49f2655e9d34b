import { Anchor, Button, Card, Group, Modal, SimpleGrid, Stack, Tabs, Text, Title } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";

import { useAiJobs } from "../api/ai";
import { SECTIONS, useMe, usePatient, usePatientSection, useTimeline } from "../api/hooks";
import type { SectionName } from "../api/hooks";
import { useOrders, useStudies } from "../api/radiology";
import { can } from "../auth/roles";
import type { Section } from "../api/types";
import { DataTable } from "../components/DataTable";
import { QueryState } from "../components/QueryState";
import { JobTable } from "./ai/AiJobsPage";
import { TumourCourseSection } from "./ai/TumourCourse";
import { BoardTab } from "./board/BoardTab";
import { OrderForm } from "./radiology/OrderForm";
import { OrderTable } from "./radiology/OrderTable";
import { StudyTable } from "./radiology/StudyTable";

type SectionRow = Section["results"][number];

// Which columns of OpenEMR's rows each section shows (OpenEMR sends many more).
const COLUMNS: Record<SectionName, string[]> = {
  problems: ["title", "diagnosis", "begdate"],
  medications: ["title", "begdate"],
  prescriptions: ["drug", "dosage", "route", "interval", "start_date"],
  allergies: ["title", "begdate"],
  encounters: ["date", "reason", "class_code"],
  vitals: ["date", "bps", "bpd", "pulse", "temperature", "oxygen_saturation"],
};

function SectionCard({ puuid, section }: { puuid: string; section: SectionName }) {
  const { t } = useTranslation();
  const query = usePatientSection(puuid, section);
  return (
    <Card withBorder>
      <Title order={5} mb="xs">
        {t(`patient.sections.${section}`)}
      </Title>
      <QueryState query={query}>
        {(data) => (
          <DataTable
            fz="sm"
            withHeader={false}
            columns={COLUMNS[section].map((column) => ({ key: column, cell: (row: SectionRow) => row[column] ?? "" }))}
            rows={data.results.slice(0, 20)}
            rowKey={(row, index) => String(row.uuid ?? row.id ?? index)}
            empty="patient.none"
          />
        )}
      </QueryState>
    </Card>
  );
}

/** The patient's imaging: studies, orders (a DOCTOR can order more) and AI analyses. */
function Imaging({ puuid }: { puuid: string }) {
  const { t } = useTranslation();
  const roles = useMe().data?.roles ?? [];
  const studies = useStudies({ patient: puuid });
  const orders = useOrders({ patient: puuid });
  const jobs = useAiJobs({ patient: puuid });
  const [ordering, setOrdering] = useState(false);
  return (
    <>
      <Card withBorder data-testid="patient-studies">
        <Title order={5} mb="xs">
          {t("patient.imaging")}
        </Title>
        <QueryState query={studies}>{(data) => <StudyTable studies={data.results} showPatient={false} />}</QueryState>
      </Card>
      <Card withBorder>
        <Group justify="space-between" mb="xs">
          <Title order={5}>{t("radiology.orders")}</Title>
          {can.orderImaging(roles) && (
            <Button size="xs" onClick={() => setOrdering(true)}>
              {t("radiology.orderImaging")}
            </Button>
          )}
        </Group>
        <QueryState query={orders}>{(data) => <OrderTable orders={data.results} showPatient={false} />}</QueryState>
      </Card>
      <Card withBorder>
        <Group justify="space-between" mb="xs">
          <Title order={5}>{t("ai.analyses")}</Title>
          {can.requestAnalysis(roles) && (
            <Button size="xs" variant="light" component={Link} to={`/ai/expression?patient=${encodeURIComponent(puuid)}`}>
              {t("ai.requestOmics")}
            </Button>
          )}
        </Group>
        <QueryState query={jobs}>{(data) => <JobTable jobs={data.results} />}</QueryState>
      </Card>
      <Modal opened={ordering} onClose={() => setOrdering(false)} title={t("radiology.orderImaging")}>
        <OrderForm patient={puuid} onDone={() => setOrdering(false)} />
      </Modal>
    </>
  );
}

export function PatientPage() {
  const { t } = useTranslation();
  const { puuid = "" } = useParams();
  const patient = usePatient(puuid);
  const timeline = useTimeline(puuid);
  const roles = useMe().data?.roles ?? [];

  return (
    <Stack>
      <Anchor component={Link} to="/patients" className="board-no-print">
        ← {t("patient.back")}
      </Anchor>
      <QueryState query={patient}>
        {(data) => (
          <Card withBorder>
            <Title order={3}>
              {data.family_name} {data.given_name}
            </Title>
            <Group gap="xl">
              <Text>
                {t("patients.mrn")}: {data.mrn}
              </Text>
              <Text>
                {t("patients.birthDate")}: {data.birth_date}
              </Text>
              <Text>
                {t("patients.sex")}: {data.sex}
              </Text>
            </Group>
          </Card>
        )}
      </QueryState>
      <Tabs defaultValue="record" keepMounted={false}>
        <Tabs.List className="board-no-print" mb="md">
          <Tabs.Tab value="record">{t("board.record")}</Tabs.Tab>
          <Tabs.Tab value="board">{t("board.tab")}</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="record">
          <Stack>
            <SimpleGrid cols={{ base: 1, lg: 2 }}>
              {SECTIONS.map((section) => (
                <SectionCard key={section} puuid={puuid} section={section} />
              ))}
            </SimpleGrid>
            <Imaging puuid={puuid} />
            <TumourCourseSection puuid={puuid} />
            <Card withBorder>
              <Title order={5} mb="xs">
                {t("patient.timeline")}
              </Title>
              <QueryState query={timeline}>
                {(data) =>
                  data.count === 0 ? (
                    <Text c="dimmed">{t("patient.none")}</Text>
                  ) : (
                    <Stack gap={4}>
                      {data.results.map((event) => (
                        <Text key={`${event.kind}-${event.source_id}`} size="sm">
                          {event.occurred_at.slice(0, 10)} · {event.kind} · {event.title}
                        </Text>
                      ))}
                    </Stack>
                  )
                }
              </QueryState>
            </Card>
          </Stack>
        </Tabs.Panel>
        <Tabs.Panel value="board">
          <BoardTab puuid={puuid} roles={roles} />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
