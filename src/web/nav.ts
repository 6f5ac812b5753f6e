// The main navigation: four sections of pages and the account menu, the section holding the
// current page marked. One list, read by the layout; admins see the Settings pages.
import type { User } from "../db/schema.js";

export interface NavLink {
  href: string;
  label: string;
  current: boolean;
}

export interface NavSection {
  label: string;
  links: NavLink[];
  current: boolean;
}

interface Page {
  href: string;
  label: string;
  admin?: boolean;
}

const SECTIONS: { label: string; pages: Page[] }[] = [
  {
    label: "Findings",
    pages: [
      { href: "/vulnerabilities", label: "Vulnerabilities" },
      { href: "/remediations", label: "Remediations" },
      { href: "/fixes", label: "Fixes to approve" },
      { href: "/trends", label: "Trends" },
    ],
  },
  {
    label: "Assets",
    pages: [
      { href: "/repositories", label: "Repositories" },
      { href: "/images", label: "Images" },
      { href: "/packages", label: "Packages" },
    ],
  },
  {
    label: "Integrations",
    pages: [
      { href: "/integrations", label: "Integration Hub" },
      { href: "/trackers", label: "Issue trackers" },
      { href: "/uploads", label: "Uploads" },
    ],
  },
  {
    label: "Settings",
    pages: [
      { href: "/jobs", label: "Jobs" },
      { href: "/settings/users", label: "Users", admin: true },
      { href: "/settings/sign-in", label: "Sign-in", admin: true },
      { href: "/settings/tokens", label: "API tokens" },
      { href: "/settings/sla", label: "SLAs", admin: true },
      { href: "/settings/ownership", label: "Ownership routing", admin: true },
      { href: "/settings/remediation", label: "Remediation", admin: true },
      { href: "/settings/policy", label: "Remediation policy", admin: true },
      { href: "/settings/exploitation", label: "Exploitation data", admin: true },
      { href: "/settings/configuration", label: "Configuration as code", admin: true },
      { href: "/settings/audit", label: "Audit log", admin: true },
    ],
  },
];

const under = (path: string, href: string) => path === href || path.startsWith(`${href}/`);

/** The sections this user sees, with the current page and its section marked. */
export function navigation(user: Pick<User, "role"> | undefined, path: string): NavSection[] {
  if (!user) return [];
  return SECTIONS.map((section) => {
    const links = section.pages.filter((p) => !p.admin || user.role === "admin").map((p) => ({ href: p.href, label: p.label, current: under(path, p.href) }));
    return { label: section.label, links, current: links.some((l) => l.current) };
  });
}
