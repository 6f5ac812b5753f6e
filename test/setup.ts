// Runs in every test file: temporary directories made with tempDir() go when the file ends.
import { afterAll } from "vitest";
import { removeTempDirs } from "./helpers.js";

afterAll(() => removeTempDirs());
