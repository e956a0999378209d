/* Import page: upload with a progress bar (XMLHttpRequest reports upload progress; fetch does not), then,
   for a large upload answered 202 with a job, the job's progress until it ends. */
(function () {
  "use strict";
  const { el, clear, fmt, say, waitJob, cookie } = window.QM;
  const projectId = document.querySelector("[data-project-id]").dataset.projectId;
  const form = document.getElementById("import-form");
  const fileInput = document.getElementById("import-file");
  const dropzone = document.getElementById("dropzone");
  const box = document.getElementById("import-progress");
  const bar = document.getElementById("upload-bar");
  const label = document.getElementById("upload-label");
  const status = document.getElementById("import-status");
  const submit = document.getElementById("import-submit");

  function upload(file, onDuplicate) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", `/api/v1/projects/${projectId}/import?on_duplicate=${encodeURIComponent(onDuplicate)}`);
      xhr.setRequestHeader("X-CSRFToken", cookie("csrftoken"));
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", (event) => {
        if (event.lengthComputable) {
          bar.value = event.loaded / event.total;
          label.textContent = `Uploading… ${fmt(Math.round(event.loaded / 1024))} of ${fmt(Math.round(event.total / 1024))} KiB`;
        }
      });
      xhr.addEventListener("load", () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        if (xhr.status >= 200 && xhr.status < 300) resolve({ status: xhr.status, body });
        else reject(new Error((body && body.error && body.error.message) || `upload failed (${xhr.status})`));
      });
      xhr.addEventListener("error", () => reject(new Error("the upload failed: network error")));
      const data = new FormData();
      data.append("file", file);
      xhr.send(data);
    });
  }

  function showResult(result) {
    document.getElementById("import-result").hidden = false;
    document.getElementById("r-created").textContent = fmt(result.created);
    document.getElementById("r-duplicates").textContent = fmt(result.duplicates);
    document.getElementById("r-updated").textContent = fmt(result.updated || 0);
    document.getElementById("r-errors").textContent = fmt((result.errors || []).length);
    const table = document.getElementById("r-error-table");
    const tbody = clear(table.querySelector("tbody"));
    table.hidden = !(result.errors || []).length;
    for (const error of (result.errors || []).slice(0, 200)) {
      tbody.append(el("tr", {}, [el("td", { class: "num", text: error.row }), el("td", { text: error.message })]));
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    if (!file) { say(status, "Choose a file first.", "error"); return; }
    submit.disabled = true;
    box.hidden = false;
    bar.value = 0;
    document.getElementById("import-result").hidden = true;
    say(status, `Uploading ${file.name}…`, "busy");
    try {
      const answer = await upload(file, document.getElementById("on-duplicate").value);
      if (answer.status === 202 && answer.body.job) {
        label.textContent = "Importing…";
        bar.value = 0;
        say(status, "The file is large: it is imported in the background.", "busy");
        const job = await waitJob(answer.body.job.id, (j) => {
          bar.value = j.progress || 0;
          label.textContent = `Importing… ${Math.round((j.progress || 0) * 100)}%`;
        });
        if (job.status === "failed") throw new Error(job.error || "the import failed");
        showResult(job.result || {});
      } else {
        showResult(answer.body || {});
      }
      bar.value = 1;
      label.textContent = "Done";
      say(status, `Imported ${file.name}.`, "ok");
    } catch (err) {
      say(status, err.message, "error");
    } finally {
      submit.disabled = false;
    }
  });

  for (const type of ["dragenter", "dragover"]) dropzone.addEventListener(type, (e) => { e.preventDefault(); dropzone.classList.add("over"); });
  for (const type of ["dragleave", "drop"]) dropzone.addEventListener(type, () => dropzone.classList.remove("over"));
  dropzone.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer.files.length) fileInput.files = event.dataTransfer.files;
  });
})();
