// Components (the viewer, the live page) bring their own style sheets, so that they mount into any page.

/** Adds a style sheet to the document once, under `id`. */
export function addStyle(id: string, css: string): void {
  if (document.getElementById(id)) return;
  const style = document.createElement('style');
  style.id = id;
  style.textContent = css;
  document.head.append(style);
}
