// Runs one hostile input in a worker thread, so that a parser stuck backtracking can be
// stopped from outside (a blocked event loop cannot time itself out).
import { parentPort, workerData } from "node:worker_threads";
import { hostileInputs } from "./hostile.js";

const { index, size } = workerData as { index: number; size: number };
const input = hostileInputs(size)[index]!;
parentPort!.postMessage({ adversarial: input.run(input.adversarial), benign: input.run(input.benign) });
