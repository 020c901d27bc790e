setTimeout(() => location.reload(), {{ watch.every_ms }} + 5000);
const c2Countdown = document.querySelector(".c2-countdown");
if (c2Countdown) {
  const due = new Date(c2Countdown.dataset.until);
  const tick = () => {
    const left = Math.max(0, Math.round((due - new Date()) / 1000));
    c2Countdown.textContent = left ? `in ${Math.floor(left / 60)} min ${left % 60} s` : "now";
  };
  tick();
  setInterval(tick, 1000);
}
