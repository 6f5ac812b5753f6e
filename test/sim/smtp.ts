// A local SMTP sink (smtp-server, from the nodemailer project): accepts mail for tests and
// the demo, with optional sign-in, and keeps each message's envelope and raw text.
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

export interface SinkMessage {
  from: string;
  to: string[];
  raw: string;
}

export interface SmtpSink {
  port: number;
  messages: SinkMessage[];
  /** Every sign-in the server was offered, right or wrong: what a client sent it. */
  logins: { username: string; password: string }[];
  close(): Promise<void>;
}

export async function startSmtpSink(opts: { user?: string; password?: string; rejectRecipient?: RegExp } = {}): Promise<SmtpSink> {
  const messages: SinkMessage[] = [];
  const logins: { username: string; password: string }[] = [];
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ["STARTTLS"],
    authOptional: !opts.user,
    authMethods: ["PLAIN", "LOGIN"],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      logins.push({ username: auth.username ?? "", password: auth.password ?? "" });
      if (auth.username === opts.user && auth.password === opts.password) return callback(null, { user: auth.username });
      return callback(Object.assign(new Error("Invalid username or password"), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      if (opts.rejectRecipient?.test(address.address))
        return callback(Object.assign(new Error(`<${address.address}>: Recipient address rejected`), { responseCode: 550 }));
      callback();
    },
    onData(stream, session, callback) {
      let raw = "";
      stream.on("data", (chunk: Buffer) => (raw += chunk.toString()));
      stream.on("end", () => {
        messages.push({ from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "", to: session.envelope.rcptTo.map((r) => r.address), raw });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return { port, messages, logins, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
