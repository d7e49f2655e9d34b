import i18n from "i18next";
import { initReactI18next } from "react-i18next";

import en from "./locales/en.json";
import ko from "./locales/ko.json";

const STORAGE_KEY = "cdss.language";

i18n.use(initReactI18next).init({
  resources: { ko: { translation: ko }, en: { translation: en } },
  lng: localStorage.getItem(STORAGE_KEY) ?? "ko", // Korean by default
  fallbackLng: "ko",
  interpolation: { escapeValue: false }, // React escapes
});

export function toggleLanguage(): void {
  const next = i18n.language === "ko" ? "en" : "ko";
  localStorage.setItem(STORAGE_KEY, next);
  void i18n.changeLanguage(next);
  document.documentElement.lang = next;
}

export default i18n;
