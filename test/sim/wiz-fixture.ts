// Starts the Wiz simulator's two services and the origin map that routes Wiz's real
// addresses to them, so connectors use the real URLs unchanged.
import { startSim, type RunningSim } from "./serve.js";
import { WizSim } from "./wiz.js";

export const WIZ_ENDPOINT = "https://api.us1.app.wiz.io/";
export const WIZ_CLIENT = { id: "patchbay-sa", secret: "wiz-client-secret-value-0001" };
/** The Integration Hub's Wiz form as a person fills it for the simulator: its endpoint, the service account, both scans on. */
export const WIZ_FORM = { apiEndpoint: WIZ_ENDPOINT, clientId: WIZ_CLIENT.id, clientSecret: WIZ_CLIENT.secret, scanSca: "on", scanContainerImages: "on" };

export interface WizFixture {
  sim: WizSim;
  auth: RunningSim;
  api: RunningSim;
  /** PATCHBAY_ORIGIN_MAP value for this fixture. */
  originMap: string;
  close(): Promise<void>;
}

export async function startWiz(ports: { auth?: number; api?: number } = {}): Promise<WizFixture> {
  const sim = new WizSim();
  sim.addClient(WIZ_CLIENT.id, WIZ_CLIENT.secret);
  const auth = await startSim(sim.authApp(), ports.auth);
  const api = await startSim(sim.apiApp(), ports.api);
  return {
    sim,
    auth,
    api,
    originMap: `https://auth.app.wiz.io=${auth.url},https://api.us1.app.wiz.io=${api.url}`,
    close: async () => {
      await auth.close();
      await api.close();
    },
  };
}
