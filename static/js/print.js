// The patient copy's Print button (an inline onclick would break the content security policy).
document.addEventListener("click", (event) => {
  if (event.target.closest("[data-print]")) window.print();
});
