import { errorText } from "../api";

/** An API failure as a sentence, announced to screen readers. */
export default function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  return <p role="alert" className="error">{errorText(error)}</p>;
}
