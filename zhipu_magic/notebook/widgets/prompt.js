// The chat panel's input box: a textarea that sends on Ctrl/Cmd+Enter or Shift+Enter (as a cell
// runs) and adds a line on Enter. Stock ipywidgets never see Ctrl/Cmd+Enter, hence this widget.
function render({ model, el }) {
  const box = document.createElement("textarea");
  box.className = "zm-prompt-input";
  box.rows = 3;
  // Keys typed here are text, never notebook shortcuts (Lumino skips elements marked so; this is
  // what lets Notebook 7's Shift+Enter reach us instead of re-running the cell).
  box.setAttribute("data-lm-suppress-shortcuts", "true");
  Object.assign(box.style, {
    width: "100%",
    boxSizing: "border-box",
    resize: "vertical",
    fontFamily: "var(--jp-ui-font-family)",
    fontSize: "var(--jp-ui-font-size1)",
    color: "var(--jp-ui-font-color1)",
    background: "var(--jp-layout-color1)",
    border: "var(--jp-border-width, 1px) solid var(--jp-border-color1)",
    borderRadius: "2px",
    padding: "4px 6px",
  });
  const paint = () => {
    if (box.value !== model.get("value")) box.value = model.get("value");
    box.placeholder = model.get("placeholder");
    box.disabled = model.get("disabled");
  };
  const save = () => {
    model.set("value", box.value);
    model.save_changes();
  };
  const onKey = (event) => {
    event.stopPropagation();
    // Enter that ends an IME composition (Chinese, Japanese input) picks the candidate: never send.
    if (event.key !== "Enter" || event.isComposing || event.keyCode === 229) return;
    if (!(event.ctrlKey || event.metaKey || event.shiftKey)) return; // a plain Enter adds a line
    event.preventDefault();
    save();
    model.send({ event: "submit", value: box.value });
  };
  box.addEventListener("input", save);
  box.addEventListener("keydown", onKey);
  model.on("change:value change:placeholder change:disabled", paint);
  paint();
  el.classList.add("zm-prompt");
  el.appendChild(box);
  return () => {
    model.off("change:value change:placeholder change:disabled", paint);
    box.removeEventListener("input", save);
    box.removeEventListener("keydown", onKey);
  };
}

export default { render };
