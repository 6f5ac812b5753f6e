// Passwords people guess first. No composition rules (NIST SP 800-63B): a password is refused
// only when it is blank, one character or a run repeated, an alphabet or keyboard sequence,
// the username, or one of the most common passwords with digits, symbols or look-alike
// characters added around it ("P@ssw0rd2024!" is "password").

/** Words at the heart of the most common passwords (breach corpora's top entries). */
const COMMON = new Set([
  "password",
  "passwort",
  "motdepasse",
  "contraseña",
  "qwerty",
  "qwertz",
  "azerty",
  "qwertyuiop",
  "asdfghjkl",
  "zxcvbnm",
  "qazwsx",
  "qazwsxedc",
  "letmein",
  "welcome",
  "admin",
  "administrator",
  "root",
  "toor",
  "iloveyou",
  "monkey",
  "dragon",
  "football",
  "baseball",
  "soccer",
  "sunshine",
  "princess",
  "master",
  "shadow",
  "superman",
  "batman",
  "trustno",
  "changeme",
  "secret",
  "login",
  "hello",
  "freedom",
  "whatever",
  "starwars",
  "pokemon",
  "computer",
  "michael",
  "jennifer",
  "jordan",
  "hunter",
  "ranger",
  "buster",
  "summer",
  "winter",
  "spring",
  "autumn",
  "charlie",
  "killer",
  "cheese",
  "flower",
  "access",
  "default",
  "guest",
  "test",
  "tester",
  "testing",
  "user",
  "patchbay",
  "security",
  "vulnerability",
  "company",
  "corporate",
  "temp",
  "temporary",
  "abc",
  "abcd",
  "abcde",
  "abcdef",
  "lovely",
]);

const LOOK_ALIKES: Record<string, string> = { "@": "a", "4": "a", "0": "o", "1": "i", "!": "i", "3": "e", $: "s", "5": "s", "7": "t" };

const isLetter = (ch: string | undefined) => ch !== undefined && ch >= "a" && ch <= "z";

/** The text without anything but letters at its ends ("2024password!!" → "password"). */
function lettersInside(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && !isLetter(text[start])) start++;
  while (end > start && !isLetter(text[end - 1])) end--;
  return text.slice(start, end);
}

function readLookAlikes(text: string): string {
  let out = "";
  for (const ch of text) out += LOOK_ALIKES[ch] ?? ch;
  return out;
}

/**
 * The cores of a password: lower case, digits and symbols around it removed, look-alikes read
 * back — both before trimming ("@dmin1" → "admin") and after ("P@ssw0rd2024!" → "password").
 */
function cores(password: string): string[] {
  const lower = password.toLowerCase();
  return [lettersInside(readLookAlikes(lower)), readLookAlikes(lettersInside(lower))];
}

function isSequence(text: string): boolean {
  if (text.length < 3) return false;
  const step = text.charCodeAt(1) - text.charCodeAt(0);
  if (Math.abs(step) !== 1) return false;
  for (let i = 2; i < text.length; i++) if (text.charCodeAt(i) - text.charCodeAt(i - 1) !== step) return false;
  return true;
}

/** The password repeats one short unit ("aaaaaaaaaa", "abcabcabcabc", "1212121212"). */
function isRepetition(text: string): boolean {
  for (let unit = 1; unit <= 4 && unit * 2 <= text.length; unit++) {
    if (text.length % unit === 0 && text.slice(0, unit).repeat(text.length / unit) === text) return true;
  }
  return false;
}

/** Why the password is too easy to guess, or undefined when it is not. */
export function weakPasswordReason(password: string, username: string): string | undefined {
  if (!password.trim()) return "A password of only blanks is too easy to guess.";
  const lower = password.toLowerCase();
  if (isRepetition(lower)) return "A password that repeats a character or a short run is too easy to guess.";
  if (isSequence(lower)) return "A sequence of letters or digits is too easy to guess.";
  if (username && lower.includes(username.toLowerCase())) return "The password must not contain the username.";
  if (cores(password).some((heart) => heart === "" || COMMON.has(heart) || isSequence(heart) || isRepetition(heart)))
    return "This is one of the most common passwords (with digits or symbols added). Choose a phrase of your own.";
  return undefined;
}
