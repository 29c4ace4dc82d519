// Uploads go from the browser straight to S3 with the presigned request createPost gave
// (MediaUpload: method, url, form fields or headers); the API never sees the bytes.
// XMLHttpRequest, not fetch, because only it reports upload progress.

/** Send `file` to one MediaUpload; onProgress(fraction 0..1). Resolves when S3 stored it. */
export function uploadFile(target, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(target.method, target.url);
    for (const { name, value } of target.headers) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      // S3 explains a refusal in XML: <Error><Code>EntityTooLarge</Code><Message>...
      const why = /<Message>([^<]*)<\/Message>/.exec(xhr.responseText)?.[1] ?? xhr.statusText;
      reject(new Error(`The storage refused the file (${xhr.status}): ${why}`));
    };
    xhr.onerror = () => reject(new Error("The upload failed: the storage could not be reached."));
    if (target.method === "PUT") {
      xhr.send(file);
    } else {
      // a presigned POST: every policy field first, the file last
      const form = new FormData();
      for (const { name, value } of target.fields) form.append(name, value);
      form.append("file", file);
      xhr.send(form);
    }
  });
}
