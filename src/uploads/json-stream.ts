// A streaming JSON reader for scan reports too large to hold: text goes in by chunks, and every
// value whose path matches a selector comes out parsed ("Results.*.Vulnerabilities.*" yields
// each vulnerability of each result), while everything else is checked for well-formedness and
// dropped. A malformed document throws JsonStreamError with the line and column.

/** A path pattern: keys and indexes, "*" for any. */
export type Selector = readonly string[];
export type JsonPath = (string | number)[];

export class JsonStreamError extends Error {
  constructor(
    readonly line: number,
    readonly column: number,
    reason: string,
  ) {
    super(`line ${line}, column ${column}: ${reason}`);
    this.name = "JsonStreamError";
  }
}

const enum State {
  /** A value is expected (document start, after ":" or in an array). */
  Value,
  /** In an object: a key or "}" (only first) is expected. */
  KeyOrEnd,
  /** In an object after ",": a key is expected. */
  Key,
  Colon,
  /** After a value in an object: "," or "}". */
  ObjectNext,
  /** In an array right after "[": a value or "]". */
  ValueOrEnd,
  /** After a value in an array: "," or "]". */
  ArrayNext,
  /** After the document's value: whitespace only. */
  Done,
}

interface Frame {
  array: boolean;
  key: string;
  index: number;
}

const WS = new Set([0x20, 0x0a, 0x0d, 0x09]);
const LITERAL_END = new Set([0x2c, 0x7d, 0x5d, 0x20, 0x0a, 0x0d, 0x09]); // , } ] and whitespace

export class JsonSelector {
  readonly #selectors: Selector[];
  readonly #maxDepth: number;
  readonly #onValue: (path: JsonPath, value: unknown) => void;
  #frames: Frame[] = [];
  #state: State = State.Value;
  #line = 1;
  #lineStart = 0;
  #offset = 0;
  // A string being read: a key, or a value.
  #inString = false;
  #escape = false;
  #stringIsKey = false;
  #keyParts: string[] = [];
  #keyStart = -1;
  // A number or true/false/null being read.
  #inLiteral = false;
  #literalParts: string[] = [];
  #literalStart = -1;
  // The value being kept: its text so far, where it starts in this chunk, and its depth.
  #capturing = false;
  #captureParts: string[] = [];
  #captureStart = -1;
  #captureDepth = 0;
  #capturePath: JsonPath = [];
  /** The document's top-level keys (the first 50), and whether it is an object or an array. */
  readonly topKeys = new Set<string>();
  root: "object" | "array" | "other" | undefined;

  constructor(selectors: Selector[], onValue: (path: JsonPath, value: unknown) => void) {
    this.#selectors = selectors;
    this.#maxDepth = Math.max(0, ...selectors.map((s) => s.length));
    this.#onValue = onValue;
  }

  #fail(at: number, reason: string): never {
    throw new JsonStreamError(this.#line, this.#offset + at - this.#lineStart + 1, reason);
  }

  /** Does the value about to start (at the current depth, in the current frame) match? */
  #matches(): boolean {
    const depth = this.#frames.length;
    if (depth > this.#maxDepth) return false;
    for (const selector of this.#selectors) {
      if (selector.length !== depth) continue;
      let ok = true;
      for (let i = 0; i < depth && ok; i++) {
        const f = this.#frames[i]!;
        const part = selector[i]!;
        ok = part === "*" || (f.array ? part === String(f.index) : part === f.key);
      }
      if (ok) return true;
    }
    return false;
  }

  #path(): JsonPath {
    return this.#frames.map((f) => (f.array ? f.index : f.key));
  }

  /** A value starts at `i`: keep it if its path is selected. */
  #startValue(i: number): void {
    if (!this.#capturing && this.#matches()) {
      this.#capturing = true;
      this.#captureParts = [];
      this.#captureStart = i;
      this.#captureDepth = this.#frames.length;
      this.#capturePath = this.#path();
    }
  }

  /** A value ended (its last character at `end - 1`): emit it if it is the kept one. */
  #endValue(chunk: string, end: number): void {
    if (this.#capturing && this.#frames.length === this.#captureDepth) {
      this.#captureParts.push(chunk.slice(this.#captureStart, end));
      const text = this.#captureParts.join("");
      this.#capturing = false;
      this.#captureParts = [];
      this.#onValue(this.#capturePath, JSON.parse(text));
    }
    const top = this.#frames.at(-1);
    this.#state = !top ? State.Done : top.array ? State.ArrayNext : State.ObjectNext;
  }

  write(chunk: string): void {
    const n = chunk.length;
    let i = 0;
    if (this.#capturing) this.#captureStart = 0;
    if (this.#inLiteral) this.#literalStart = 0;
    if (this.#inString && this.#stringIsKey) this.#keyStart = 0;
    while (i < n) {
      const c = chunk.charCodeAt(i);
      if (this.#inString) {
        // Runs of plain characters are skipped in one step.
        if (this.#escape) {
          this.#escape = false;
        } else if (c === 0x5c) {
          this.#escape = true;
        } else if (c === 0x22) {
          this.#inString = false;
          if (this.#stringIsKey) {
            this.#keyParts.push(chunk.slice(this.#keyStart, i));
            const raw = this.#keyParts.join("");
            this.#frames.at(-1)!.key = raw.includes("\\") ? (JSON.parse(`"${raw}"`) as string) : raw;
            if (this.#frames.length === 1 && this.topKeys.size < 50) this.topKeys.add(this.#frames[0]!.key);
            this.#state = State.Colon;
          } else {
            this.#endValue(chunk, i + 1);
          }
        } else if (c < 0x20) {
          this.#fail(i, "a control character inside a string (strings must be on one line; escape it as \\n)");
        }
        i++;
        continue;
      }
      if (this.#inLiteral) {
        if (!LITERAL_END.has(c)) {
          i++;
          continue;
        }
        this.#literalParts.push(chunk.slice(this.#literalStart, i));
        const literal = this.#literalParts.join("");
        this.#inLiteral = false;
        if (!/^(-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?|true|false|null)$/.test(literal))
          this.#fail(i - literal.length, `"${literal.slice(0, 20)}" is not a JSON value`);
        this.#endValue(chunk, i);
        continue; // the delimiter is read again in the new state
      }
      if (WS.has(c)) {
        if (c === 0x0a) {
          this.#line++;
          this.#lineStart = this.#offset + i + 1;
        }
        i++;
        continue;
      }
      switch (this.#state) {
        case State.Value:
        case State.ValueOrEnd:
          if (c === 0x5d && this.#state === State.ValueOrEnd) {
            this.#frames.pop();
            this.#endValue(chunk, i + 1);
            break;
          }
          this.#startValue(i);
          if (c === 0x7b) {
            this.root ??= "object";
            this.#frames.push({ array: false, key: "", index: 0 });
            this.#state = State.KeyOrEnd;
          } else if (c === 0x5b) {
            this.root ??= "array";
            this.#frames.push({ array: true, key: "", index: 0 });
            this.#state = State.ValueOrEnd;
          } else if (c === 0x22) {
            this.#inString = true;
            this.#stringIsKey = false;
          } else if (c === 0x2d || (c >= 0x30 && c <= 0x39) || c === 0x74 || c === 0x66 || c === 0x6e) {
            this.#inLiteral = true;
            this.#literalParts = [];
            this.#literalStart = i;
          } else {
            this.#fail(i, `unexpected "${String.fromCharCode(c)}" where a value was expected`);
          }
          break;
        case State.KeyOrEnd:
        case State.Key:
          if (c === 0x7d && this.#state === State.KeyOrEnd) {
            this.#frames.pop();
            this.#endValue(chunk, i + 1);
          } else if (c === 0x22) {
            this.#inString = true;
            this.#stringIsKey = true;
            this.#keyParts = [];
            this.#keyStart = i + 1;
          } else {
            this.#fail(i, `expected a property name in double quotes, found "${String.fromCharCode(c)}"`);
          }
          break;
        case State.Colon:
          if (c !== 0x3a) this.#fail(i, `expected ":" after the property name "${this.#frames.at(-1)!.key}"`);
          this.#state = State.Value;
          break;
        case State.ObjectNext:
          if (c === 0x2c) this.#state = State.Key;
          else if (c === 0x7d) {
            this.#frames.pop();
            this.#endValue(chunk, i + 1);
          } else this.#fail(i, `expected "," or "}" after the value of "${this.#frames.at(-1)!.key}"`);
          break;
        case State.ArrayNext:
          if (c === 0x2c) {
            this.#frames.at(-1)!.index++;
            this.#state = State.Value;
          } else if (c === 0x5d) {
            this.#frames.pop();
            this.#endValue(chunk, i + 1);
          } else this.#fail(i, `expected "," or "]" after item ${this.#frames.at(-1)!.index} of an array`);
          break;
        case State.Done:
          this.#fail(i, "unexpected text after the end of the document");
      }
      i++;
    }
    // Carry what is open into the next chunk.
    if (this.#capturing) this.#captureParts.push(chunk.slice(this.#captureStart));
    if (this.#inLiteral) this.#literalParts.push(chunk.slice(this.#literalStart));
    if (this.#inString && this.#stringIsKey) this.#keyParts.push(chunk.slice(this.#keyStart));
    this.#offset += n;
  }

  end(): void {
    if (this.#inLiteral) this.write(" ");
    if (this.#state === State.Done) return;
    if (this.#offset === 0 && this.#frames.length === 0) throw new JsonStreamError(1, 1, "the file is empty");
    const inside = this.#frames.at(-1);
    throw new JsonStreamError(
      this.#line,
      this.#offset - this.#lineStart + 1,
      `the document ends early${inside ? ` inside ${inside.array ? "an array" : `the object at "${this.#path().join(".")}"`}` : ""} (is the file truncated?)`,
    );
  }
}
