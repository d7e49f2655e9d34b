import { Center, Loader, Text } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect } from "react";
import type { ReactElement } from "react";
import { useTranslation } from "react-i18next";
import { Navigate, Route, Routes, useLocation, useNavigate } from "react-router";

import { ApiError, SESSION_EXPIRED_EVENT } from "./api/client";
import { useMe } from "./api/hooks";
import type { Me } from "./api/types";
import { can, homePath } from "./auth/roles";
import { SecurityPage } from "./auth/SecurityPage";
import { Layout } from "./components/Layout";
import { QueryState } from "./components/QueryState";
import { NotificationsPage } from "./notifications/NotificationsPage";
import { NotificationsProvider } from "./notifications/NotificationsProvider";
import { LoginPage } from "./pages/LoginPage";
import { PatientPage } from "./pages/PatientPage";
import { PatientsPage } from "./pages/PatientsPage";
import { AuditPage } from "./pages/admin/AuditPage";
import { FhirPage } from "./pages/admin/FhirPage";
import { RulesPage } from "./pages/admin/RulesPage";
import { AiJobPage } from "./pages/ai/AiJobPage";
import { AiJobsPage } from "./pages/ai/AiJobsPage";
import { ExpressionPage } from "./pages/ai/ExpressionPage";
import { SignOffWorklistPage } from "./pages/ai/SignOffWorklistPage";
import { OpsPage } from "./pages/ops/OpsPage";
import { ReconciliationListPage } from "./pages/radiology/ReconciliationList";
import { ReconciliationPage } from "./pages/radiology/ReconciliationPage";
import { StudyPage } from "./pages/radiology/StudyPage";
import { UploadPage } from "./pages/radiology/UploadPage";
import { WorklistPage } from "./pages/radiology/WorklistPage";

type Check = (roles: readonly string[]) => boolean;

/** A screen the role may not use says so (the server refuses it anyway); nothing of it is rendered or fetched. */
function Guard({ me, allow, children }: { me: Me; allow: Check; children: ReactElement }) {
  const { t } = useTranslation();
  return allow(me.roles ?? []) ? children : <Text data-testid="no-access">{t("app.noAccess")}</Text>;
}

export function SignedInRoutes({ me }: { me: Me }) {
  const roles = me.roles ?? [];
  const guard = (allow: Check, page: ReactElement) => (
    <Guard me={me} allow={allow}>
      {page}
    </Guard>
  );
  return (
    <Routes>
      <Route element={<Layout me={me} />}>
        <Route path="/patients" element={guard(can.seePatients, <PatientsPage />)} />
        <Route path="/patients/:puuid" element={guard(can.seePatients, <PatientPage />)} />
        <Route path="/radiology" element={guard(can.seeImaging, <WorklistPage me={me} />)} />
        <Route path="/radiology/upload" element={guard(can.uploadDicom, <UploadPage />)} />
        <Route path="/radiology/studies/:studyId" element={guard(can.seeImaging, <StudyPage me={me} />)} />
        <Route path="/radiology/reconciliation" element={guard(can.seeReconciliation, <ReconciliationListPage />)} />
        <Route path="/radiology/reconciliation/:itemId" element={guard(can.seeReconciliation, <ReconciliationPage me={me} />)} />
        <Route path="/ai/jobs" element={guard(can.seeAnalyses, <AiJobsPage />)} />
        <Route path="/ai/jobs/:jobId" element={guard(can.seeAnalyses, <AiJobPage me={me} />)} />
        <Route path="/ai/expression" element={guard(can.requestAnalysis, <ExpressionPage />)} />
        <Route path="/worklist" element={guard(can.seeSignOffWorklist, <SignOffWorklistPage />)} />
        <Route path="/manage/audit" element={guard(can.administer, <AuditPage />)} />
        <Route path="/manage/fhir" element={guard(can.administer, <FhirPage />)} />
        <Route path="/manage/rules" element={guard(can.administer, <RulesPage />)} />
        <Route path="/ops" element={guard(can.seeOperations, <OpsPage />)} />
        <Route path="/notifications" element={<NotificationsPage />} />
        <Route path="/account/security" element={<SecurityPage />} />
        <Route path="*" element={<Navigate to={homePath(roles)} replace />} />
      </Route>
    </Routes>
  );
}

function SignedIn() {
  const me = useMe();
  const location = useLocation();
  if (me.isPending) {
    return (
      <Center h="100vh">
        <Loader />
      </Center>
    );
  }
  if (me.isError) {
    const signedOut = me.error instanceof ApiError && [401, 403].includes(me.error.status);
    if (signedOut) return <Navigate to={`/login?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
    return (
      <Center h="100vh">
        <QueryState query={me}>{() => null}</QueryState>
      </Center>
    );
  }
  return (
    <NotificationsProvider>
      <SignedInRoutes me={me.data} />
    </NotificationsProvider>
  );
}

export function App() {
  const navigate = useNavigate();
  const client = useQueryClient();
  useEffect(() => {
    const expired = () => {
      // Only someone who was signed in has a session that expired; a first visit just signs in.
      if (client.getQueryData(["me"]) === undefined) return;
      client.clear();
      const next = encodeURIComponent(window.location.pathname + window.location.search);
      navigate(`/login?expired=1&next=${next}`);
    };
    window.addEventListener(SESSION_EXPIRED_EVENT, expired);
    return () => window.removeEventListener(SESSION_EXPIRED_EVENT, expired);
  }, [client, navigate]);

  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route path="*" element={<SignedIn />} />
    </Routes>
  );
}
